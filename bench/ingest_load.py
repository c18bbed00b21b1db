"""The ingest benchmark's load: valid telemetry of about 200 bytes from several publisher processes.

Each publisher process owns a slice of the devices and publishes every message of its devices
with paho (QoS 1 by default, 1000 in flight), in sequence order, then waits for the last PUBACK,
up to ``ack_timeout_s``. On a busy machine some PUBACKs may not be in by then: the publisher
reports how many were, and the consumers drain that many (what the broker confirmed it holds),
with a note, instead of the run ending in an exception.
"""

from __future__ import annotations

import multiprocessing as mp
import time
import uuid
from dataclasses import dataclass
from typing import Any

from govedge.contract import Telemetry, encode
from govedge.contract.topics import Channel, topic

TOPIC_FILTER = "gov/v1/+/telemetry"


@dataclass(frozen=True, slots=True)
class Load:
    """What to send: ``devices`` devices, ``per_device`` messages each, at ``qos``."""

    devices: int = 200
    per_device: int = 1000
    publishers: int = 3
    qos: int = 1
    ack_timeout_s: float = 120.0  # per publisher, after its last publish call

    @property
    def total(self) -> int:
        """Messages the load sends in all."""
        return self.devices * self.per_device

    def device_ids(self) -> list[str]:
        """The simulated devices' ids, the same on every run (``bench-00000``...)."""
        return [f"bench-{i:05d}" for i in range(self.devices)]


@dataclass(frozen=True, slots=True)
class Published:
    """What the publishers got done: seconds, and messages the broker acknowledged."""

    seconds: float
    acked: int
    total: int
    link_losses: int = 0

    def note(self) -> str:
        """Empty when every message was acknowledged; else what the figures cover."""
        if self.acked >= self.total:
            return ""
        return (
            f"publishers: {self.acked} of {self.total} messages acknowledged within the ack "
            f"timeout (link lost {self.link_losses} times; a busy machine?): figures cover the "
            f"{self.acked} acknowledged"
        )


def payload(device_id: str, boot_id: str, seq: int, ts: float) -> bytes:
    """One telemetry message of about 200 bytes, as a device's agent would send it."""
    return encode(
        Telemetry(
            device_id=device_id,
            boot_id=boot_id,
            seq=seq,
            ts=ts,
            data={
                "temperature": 21.5 + (seq % 50) / 10,
                "humidity": 40.25 + (seq % 30) / 4,
                "pm25": 12.0 + seq % 7,
                "noise_db": 48.5,
            },
        )
    )


def _publish_slice(
    url_host: str, port: int, device_ids: list[str], load: Load, acked_out: Any, lost_out: Any
) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    boot_ids = {d: uuid.uuid4().hex for d in device_ids}
    base = time.time() - 3600.0
    # Interleave devices, as a fleet would: seq 1 of every device, then seq 2, ...
    messages = [
        (
            topic(d, Channel.TELEMETRY),
            payload(d, boot_ids[d], seq, base + seq * 0.02),
        )  # 50 Hz: the contract's rate
        for seq in range(1, load.per_device + 1)
        for d in device_ids
    ]
    acked = 0
    disconnects = 0
    want = len(messages)

    def on_disconnect(*_: object) -> None:
        nonlocal disconnects
        disconnects += 1

    def on_publish(_c: object, _u: object, _mid: int, _rc: object, _p: object) -> None:
        nonlocal acked
        acked += 1

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"bench-pub-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv311,
    )
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.on_disconnect = on_disconnect
    client.connect(url_host, port, keepalive=60)
    client.loop_start()
    for name, body in messages:
        client.publish(name, body, qos=load.qos)
    deadline = time.monotonic() + load.ack_timeout_s
    while acked < want and time.monotonic() < deadline:
        time.sleep(0.01)
    acked_out.value = min(acked, want)
    lost_out.value = disconnects
    client.disconnect()
    client.loop_stop()


def publish_all(host: str, port: int, load: Load) -> Published:
    """Send the whole load from ``load.publishers`` processes; say how long and how much of it
    the broker acknowledged (see :meth:`Published.note`)."""
    ids = load.device_ids()
    slices = [ids[i :: load.publishers] for i in range(load.publishers)]
    ctx = mp.get_context("spawn")
    counts = [(ctx.Value("q", 0), ctx.Value("q", 0)) for _ in slices]
    procs = [
        ctx.Process(target=_publish_slice, args=(host, port, part, load, *count), daemon=True)
        for part, count in zip(slices, counts, strict=True)
        if part
    ]
    started = time.perf_counter()
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(load.ack_timeout_s + 60)
        if proc.is_alive():
            proc.kill()
            proc.join(5)
        if proc.exitcode not in (0, -9):
            raise RuntimeError(f"publisher process exited with {proc.exitcode}")
    return Published(
        time.perf_counter() - started,
        sum(int(a.value) for a, _ in counts),
        load.total,
        sum(int(n.value) for _, n in counts),
    )
