"""Scale mode over a real Mosquitto: births and wills with boot ids, QoS 1 telemetry in the
contract, link loss, and a small reconnect storm after a broker kill."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from govedge.cli import main
from govedge.contract import Status, Telemetry, decode, parse_topic
from sim.fleet import FleetLayout, ScaleFleet


class Watcher:
    """A paho subscriber that decodes every message of the fleet with the contract."""

    def __init__(self, host: str, port: int, prefix: str) -> None:
        self.prefix = prefix
        self.lock = threading.Lock()
        self.status: dict[str, Status] = {}
        self.telemetry: dict[str, list[Telemetry]] = {}
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"watch-{prefix}")
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.subscribe("gov/v1/+/status", qos=1)
        self.client.subscribe("gov/v1/+/telemetry", qos=1)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        device_id, _ = parse_topic(msg.topic)
        if not device_id.startswith(self.prefix) or not msg.payload:
            return
        decoded = decode(msg.payload)
        with self.lock:
            if isinstance(decoded, Status):
                self.status[device_id] = decoded
            elif isinstance(decoded, Telemetry):
                self.telemetry.setdefault(device_id, []).append(decoded)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


async def until(check: Callable[[], bool], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_two_hundred_devices_speak_the_contract(mqtt_broker: Any) -> None:
    layout = FleetLayout.generate(200, prefix="scale1")
    watcher = Watcher(mqtt_broker.host, mqtt_broker.port, "scale1")
    fleet = ScaleFleet(layout, mqtt_broker.url, interval_s=0.2)
    await fleet.start()
    try:
        assert await fleet.wait_connected(within_s=20)
        await until(lambda: len(watcher.status) == 200 and len(watcher.telemetry) == 200)
        await until(lambda: all(len(v) >= 3 for v in watcher.telemetry.values()))
        for device_id, status in watcher.status.items():
            dev = fleet.devices[device_id]
            assert status.data.online and status.boot_id == dev.boot_id
            assert status.data.model == dev.spec.model
        with watcher.lock:
            for device_id, msgs in watcher.telemetry.items():
                seqs = [m.seq for m in msgs]
                assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
                assert set(msgs[0].data) == set(fleet.devices[device_id].spec.baseline)

        # A scenario value reaches the wire; a stuck quantity repeats exactly.
        gauge = layout.select({"kind": "river_gauge"})[0].device_id
        fleet.set_value(gauge, "water_level_m", 5.5)
        fleet.stick(gauge, "water_level_m", True)
        n = len(watcher.telemetry[gauge])
        await until(lambda: len(watcher.telemetry[gauge]) >= n + 4)
        stuck = [m.data["water_level_m"] for m in watcher.telemetry[gauge][n + 1 :]]
        assert len(set(stuck)) == 1 and abs(stuck[0] - 5.5) < 0.1

        # Link loss: the broker publishes each will (offline, same boot id); then they return.
        district = layout.ids(layout.select({"district": "d0", "kind": "kiosk"}))
        fleet.set_link(district, False)
        await until(lambda: all(not watcher.status[d].data.online for d in district))
        assert all(watcher.status[d].boot_id == fleet.devices[d].boot_id for d in district)
        assert all(watcher.status[d].data.reason == "connection lost" for d in district)
        fleet.set_link(district, True)
        await until(lambda: all(watcher.status[d].data.online for d in district))
        assert fleet.stats.acked <= fleet.stats.sent
    finally:
        await fleet.stop()
        watcher.close()


async def test_reconnect_storm_after_broker_kill(mosquitto_factory: Any) -> None:
    broker = mosquitto_factory()
    fleet = ScaleFleet(
        FleetLayout.generate(150, prefix="storm"),
        broker.url,
        interval_s=0.2,
        owned_broker=broker,
        backoff_cap_s=2.0,
    )
    await fleet.start()
    try:
        assert await fleet.wait_connected(within_s=20)
        await fleet.restart_broker(0.3)
        assert await fleet.wait_connected(within_s=30)
        assert fleet.stats.connects >= 300
        assert fleet.stats.disconnects >= 150
        before = fleet.stats.acked
        await until(lambda: fleet.stats.acked > before + 150)
    finally:
        await fleet.stop()


def test_cli_runs_a_fleet_with_a_scenario(mqtt_broker: Any, capsys: Any) -> None:
    code = main(
        [
            "sim",
            "fleet",
            "--devices",
            "20",
            "--duration",
            "1.5",
            "--broker",
            mqtt_broker.url,
            "--scenario",
            "flood",
            "--speed",
            "100",
            "--interval",
            "0.2",
            "--seed",
            "7",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "scenario: flood" in out
    assert "connected 20/20" in out


def test_cli_errors_are_one_line(capsys: Any) -> None:
    assert main(["sim", "fleet", "--scenario", "tsunami"]) == 1
    assert "no scenario 'tsunami'" in capsys.readouterr().err
    assert main(["sim", "fleet", "--mode", "fidelity", "--devices", "1000"]) == 1
    assert "one real agent per device" in capsys.readouterr().err
    assert main(["sim", "fleet", "--scenario", "broker_restart", "--broker", "mqtt://h:1"]) == 1
    assert "omit --broker" in capsys.readouterr().err
    assert main(["sim", "fleet", "--hub", "http://127.0.0.1:1"]) == 1
    assert "GOVEDGE_HUB_TOKEN" in capsys.readouterr().err
