"""The operator console's browser tests: a hub on SQLite, headless Chromium (Debian's), and a
fleet of devices on the real broker that answer commands and configs as edge agents do."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.async_api import BrowserContext, async_playwright

from govedge.contract import (
    Channel,
    Command,
    CommandAck,
    CommandAckData,
    ConfigDesired,
    ConfigReported,
    ConfigReportedData,
    Health,
    HealthData,
    Status,
    StatusData,
    Telemetry,
    decode,
    encode,
    subscription,
    topic,
)
from govedge.contract.messages import DriverHealth

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
LAPTOP = {"width": 1366, "height": 768}
WALL = {"width": 1920, "height": 1080}


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
            viewport=LAPTOP,
            locale="en-GB",
        )
        try:
            yield context
        finally:
            await context.close()


class SimFleet:
    """Devices on the wire, one MQTT session for all of them: birth, health, telemetry, and
    answers to commands (acknowledged) and desired configs (applied, or refused by the devices
    in ``refuse``), each answer ``delay_s`` after the last so progress is visible."""

    def __init__(self, broker: Any, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.refuse: set[str] = set()
        self.boots: dict[str, str] = {}
        self.seqs: dict[str, int] = {}
        self.commands_seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"fleet-{uuid.uuid4().hex[:6]}",
        )
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self._answers: list[tuple[float, str, bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._answer_loop, daemon=True)
        self._thread.start()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe(subscription(Channel.CMD), qos=1)
        client.subscribe(subscription(Channel.CONFIG_DESIRED), qos=1)

    def _next(self, device_id: str) -> tuple[str, int]:
        with self._lock:
            boot = self.boots.setdefault(device_id, uuid.uuid4().hex)
            self.seqs[device_id] = self.seqs.get(device_id, 0) + 1
            return boot, self.seqs[device_id]

    def _send(self, device_id: str, channel: Channel, msg: Any, retain: bool = False) -> None:
        self.client.publish(topic(device_id, channel), encode(msg), qos=1, retain=retain)

    def online(self, ids: Iterable[str], keepalive: int = 600) -> None:
        for device_id in ids:
            boot, seq = self._next(device_id)
            self._send(
                device_id,
                Channel.STATUS,
                Status(
                    device_id=device_id,
                    boot_id=boot,
                    seq=seq,
                    ts=time.time(),
                    data=StatusData(online=True, keepalive=keepalive),
                ),
                retain=True,
            )

    def health(self, device_id: str, drivers: dict[str, tuple[str, str]]) -> None:
        boot, seq = self._next(device_id)
        self._send(
            device_id,
            Channel.HEALTH,
            Health(
                device_id=device_id,
                boot_id=boot,
                seq=seq,
                ts=time.time(),
                data=HealthData(
                    drivers={n: DriverHealth(state=s, detail=d) for n, (s, d) in drivers.items()}  # type: ignore[arg-type]
                ),
            ),
        )

    def telemetry(self, device_id: str, points: list[tuple[float, dict[str, float]]]) -> None:
        for ts, data in points:
            boot, seq = self._next(device_id)
            self._send(
                device_id,
                Channel.TELEMETRY,
                Telemetry(device_id=device_id, boot_id=boot, seq=seq, ts=ts, data=data),
            )

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if not message.payload:
            return
        msg = decode(message.payload)
        device_id = msg.device_id
        if device_id not in self.boots:
            return  # not one of this fleet's live devices
        if isinstance(msg, Command):
            self.commands_seen.append((device_id, msg.data.name))
            boot, seq = self._next(device_id)
            ack = CommandAck(
                device_id=device_id,
                boot_id=boot,
                seq=seq,
                ts=time.time(),
                data=CommandAckData(id=msg.data.id, ok=True),
            )
            self._queue(device_id, Channel.CMD_ACK, encode(ack))
        elif isinstance(msg, ConfigDesired):
            boot, seq = self._next(device_id)
            refused = device_id in self.refuse
            rep = ConfigReported(
                device_id=device_id,
                boot_id=boot,
                seq=seq,
                ts=time.time(),
                data=ConfigReportedData(
                    version=msg.data.version,
                    ok=not refused,
                    error="publish.health_interval_s below this model's minimum" if refused else "",
                ),
            )
            self._queue(device_id, Channel.CONFIG_REPORTED, encode(rep))

    def _queue(self, device_id: str, channel: Channel, payload: bytes) -> None:
        with self._lock:
            last = self._answers[-1][0] if self._answers else time.monotonic()
            due = max(last, time.monotonic()) + self.delay_s
            self._answers.append((due, topic(device_id, channel), payload))

    def _answer_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                ready = [a for a in self._answers if a[0] <= time.monotonic()]
                self._answers = [a for a in self._answers if a[0] > time.monotonic()]
            for _, name, payload in ready:
                self.client.publish(name, payload, qos=1)
            time.sleep(0.02)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def sim_fleet(mqtt_broker: Any) -> Iterator[Any]:
    made: list[SimFleet] = []

    def make(delay_s: float = 0.0) -> SimFleet:
        fleet = SimFleet(mqtt_broker, delay_s)
        made.append(fleet)
        return fleet

    yield make
    for fleet in made:
        fleet.close()
