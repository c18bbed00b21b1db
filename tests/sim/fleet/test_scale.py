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
        # Readings sent before stick() may still be in flight, however many: the check is that
        # the stream settles into one exact value, which a live quantity's noise never repeats.
        def last_four() -> list[float]:
            with watcher.lock:
                return [m.data["water_level_m"] for m in watcher.telemetry[gauge][-4:]]

        await until(lambda: len(set(last_four())) == 1)
        stuck = last_four()
        assert len(stuck) == 4 and abs(stuck[0] - 5.5) < 0.1

        # Link loss: the broker publishes each will (offline, same boot id, stamped as its
        # connection's birth); then they return with births stamped later.
        district = layout.ids(layout.select({"district": "d0", "kind": "kiosk"}))
        with watcher.lock:
            births = {d: watcher.status[d] for d in district}
        fleet.set_link(district, False)
        await until(lambda: all(not watcher.status[d].data.online for d in district))
        assert all(watcher.status[d].boot_id == fleet.devices[d].boot_id for d in district)
        assert all(watcher.status[d].data.reason == "connection lost" for d in district)
        assert all(watcher.status[d].ts == births[d].ts for d in district)
        fleet.set_link(district, True)
        await until(lambda: all(watcher.status[d].data.online for d in district))
        assert all(watcher.status[d].ts > births[d].ts for d in district)
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


async def test_devices_answer_commands_and_configs_as_agents_do(mqtt_broker: Any) -> None:
    """A stand-in hub on the wire: commands are acknowledged once (a redelivery is not run
    again), expired and unknown ones refused; a desired config is applied and reported, refused
    by the devices the policy names, and an older one ignored."""
    from govedge.contract import (
        Channel,
        Command,
        CommandAck,
        CommandData,
        ConfigDesired,
        ConfigDesiredData,
        ConfigReported,
        encode,
        topic,
    )
    from sim.fleet.answers import AnswerPolicy

    layout = FleetLayout.generate(4, prefix="answer1")
    a, b = layout.ids()[:2]
    answers: list[Any] = []
    hub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="answer1-hub")
    hub.on_message = lambda c, u, m: answers.append(decode(m.payload))
    hub.connect(mqtt_broker.host, mqtt_broker.port)
    hub.subscribe("gov/v1/+/cmd/ack", qos=1)
    hub.subscribe("gov/v1/+/config/reported", qos=1)
    hub.loop_start()
    fleet = ScaleFleet(
        layout, mqtt_broker.url, interval_s=0, policy=AnswerPolicy(refuse_configs={b})
    )
    await fleet.start()
    seq = 0

    def send(device_id: str, channel: Channel, msg: Any, retain: bool = False) -> None:
        hub.publish(topic(device_id, channel), encode(msg), qos=1, retain=retain)

    def command(device_id: str, cid: str, name: str, expires: float) -> None:
        nonlocal seq
        seq += 1
        data = CommandData(id=cid, name=name, expires_at=expires)
        send(
            device_id,
            Channel.CMD,
            Command(device_id=device_id, boot_id="hub", seq=seq, ts=time.time(), data=data),
        )

    def desired(device_id: str, version: int) -> None:
        nonlocal seq
        seq += 1
        data = ConfigDesiredData(version=version, config={"publish": {}})
        msg = ConfigDesired(device_id=device_id, boot_id="hub", seq=seq, ts=time.time(), data=data)
        send(device_id, Channel.CONFIG_DESIRED, msg, retain=True)

    try:
        assert await fleet.wait_connected(within_s=20)
        await asyncio.sleep(0.3)  # subscriptions in place
        later = time.time() + 60
        command(a, "c1", "ping", later)
        command(a, "c1", "ping", later)  # a redelivery
        command(a, "c2", "self_test", time.time() - 1)
        command(a, "c3", "launch_rockets", later)
        desired(a, 2)
        desired(b, 2)
        await until(lambda: len(answers) >= 5)
        await asyncio.sleep(0.5)
        acks = {m.data.id: m.data for m in answers if isinstance(m, CommandAck)}
        assert set(acks) == {"c1", "c2", "c3"}
        assert acks["c1"].ok and acks["c1"].result["boot_id"] == fleet.devices[a].boot_id
        assert not acks["c2"].ok and "expired" in acks["c2"].error
        assert not acks["c3"].ok and "unknown command" in acks["c3"].error
        reports = {m.device_id: m.data for m in answers if isinstance(m, ConfigReported)}
        assert reports[a].ok and reports[a].version == 2
        assert not reports[b].ok and reports[b].version == 2 and reports[b].error
        assert fleet.answer_counts.commands_duplicate == 1
        assert list(fleet.devices[a].answers.ran) == ["ping"]

        # An older version is ignored; the acks carry the device's own rising seq numbers.
        answers.clear()
        desired(a, 1)
        command(a, "c4", "ping", later)
        await until(lambda: len(answers) >= 1)
        await asyncio.sleep(0.5)
        assert [type(m) for m in answers] == [CommandAck]
        assert fleet.devices[a].answers.config_version == 2
    finally:
        await fleet.stop()
        for device_id in (a, b):
            hub.publish(topic(device_id, Channel.CONFIG_DESIRED), b"", qos=1, retain=True)
        hub.loop_stop()
        hub.disconnect()


async def test_a_failure_fraction_picks_the_same_devices_every_run() -> None:
    from sim.fleet.answers import AnswerPolicy

    policy = AnswerPolicy(config_failure_rate=0.2)
    ids = [f"dev-{i}" for i in range(1000)]
    refused = [d for d in ids if policy.refuses(d, 3)]
    assert 150 < len(refused) < 250
    assert refused == [d for d in ids if AnswerPolicy(config_failure_rate=0.2).refuses(d, 3)]
    assert not any(AnswerPolicy().refuses(d, 3) for d in ids)
