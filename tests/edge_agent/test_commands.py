"""Commands over a real broker: acknowledged with result or error, expired ones refused, and a
redelivered command (twice live, and again after a restart) runs once."""

from __future__ import annotations

import asyncio
from typing import Any

from edge_agent.commands import card_presence
from edge_agent.runtime import build_agent
from govedge.contract import CommandAck


class CardReader:
    """A card reader at the driver interface (read_card is its capability)."""

    kind = "scripted"

    def __init__(self) -> None:
        from drivers.base import HealthReport
        from govedge.health import HealthState

        self.report = HealthReport(HealthState.ONLINE)
        self.reads = 0

    def open(self) -> None: ...

    def close(self) -> None: ...

    def poll(self) -> dict[str, float]:
        return {"card_present": 1.0}

    def health(self) -> Any:
        return self.report

    def read_card(self) -> dict[str, Any]:
        self.reads += 1
        return {
            "name": "张三丰",
            "id_number": "110105199001010023",
            "address": "北京市朝阳区某街道1号",
            "photo": b"\xff\xd8" + b"\0" * 100,
            "valid_to": "2036-01-01",
            "card_type": "resident",
        }


class Printer(CardReader):
    def __init__(self) -> None:
        super().__init__()
        self.printed: list[Any] = []

    def poll(self) -> dict[str, float]:
        return {}

    def print_receipt(self, receipt: Any) -> None:
        self.printed.append(receipt)


def _acks(col: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for m in col.of_type(CommandAck):
        out.setdefault(m.data.id, []).append(m.data)
    return out


async def test_commands_are_acknowledged_refused_when_expired_and_run_once(
    mqtt_broker, make_config, collector_factory, scripted, fake, hub
):
    drivers, factory = scripted
    drivers["reader"] = CardReader()
    drivers["printer"] = Printer()
    device = "cmd-1"
    col = collector_factory(mqtt_broker.host, mqtt_broker.port, f"gov/v1/{device}/cmd/ack")
    path = make_config(
        device,
        mqtt_broker.url,
        [
            fake("reader", 0.1),
            fake("printer", 1.0, metric_prefix="p."),
            fake("sensor", 0.1, metric_prefix="env."),
        ],
    )
    agent = build_agent(path, driver_factory=factory)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        for _ in range(500):  # at most 10 s
            if agent.link.connected:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # subscriptions are in place
        hub.command(device, "c-ping", "ping")
        hub.command(device, "c-old", "ping", expires_in=-1.0)
        hub.command(device, "c-restart", "restart_driver", {"name": "sensor"})
        hub.command(device, "c-restart", "restart_driver", {"name": "sensor"})  # redelivered
        hub.command(device, "c-card", "read_card")
        hub.command(device, "c-print", "print_test_receipt")
        hub.command(device, "c-what", "self_destruct")
        hub.command(device, "c-nodriver", "restart_driver", {"name": "nope"})
        hub.command(device, "c-test", "self_test")
        want = {"c-ping", "c-old", "c-restart", "c-card", "c-print", "c-what", "c-nodriver"}
        assert await col.until(lambda: want | {"c-test"} <= set(_acks(col)), 10)
        sensor_opens = drivers["sensor"].opens
    finally:
        stop.set()
        await task

    acks = _acks(col)
    assert acks["c-ping"][0].ok and acks["c-ping"][0].result["pong"] is True
    assert acks["c-ping"][0].result["boot_id"] == agent.boot_id
    assert not acks["c-old"][0].ok and "expired" in acks["c-old"][0].error
    assert len(acks["c-restart"]) == 1 and acks["c-restart"][0].ok
    assert sensor_opens == 2  # opened at start, once more by the single restart
    card = acks["c-card"][0].result
    assert card == {"present": True, "card_type": "resident", "driver": "reader"}
    assert acks["c-print"][0].ok and drivers["printer"].printed
    assert not acks["c-what"][0].ok and "unknown command" in acks["c-what"][0].error
    assert not acks["c-nodriver"][0].ok and "nope" in acks["c-nodriver"][0].error
    assert acks["c-test"][0].ok and set(acks["c-test"][0].result["drivers"]) == {
        "reader",
        "printer",
        "sensor",
    }
    assert agent.counters["commands_duplicate"] == 1

    # After a restart the same command id still does not run again.
    before = len(col.of_type(CommandAck))
    again = build_agent(path, driver_factory=factory)
    stop = asyncio.Event()
    task = asyncio.create_task(again.run(stop))
    try:
        for _ in range(500):  # at most 10 s
            if again.link.connected:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        hub.command(device, "c-restart", "restart_driver", {"name": "sensor"})
        hub.command(device, "c-ping2", "ping")
        assert await col.until(lambda: "c-ping2" in _acks(col), 10)
    finally:
        stop.set()
        await task
    assert len(col.of_type(CommandAck)) == before + 1
    assert again.counters["commands_duplicate"] == 1


def test_card_presence_carries_no_citizen_field() -> None:
    out = card_presence(
        {
            "id_number": "110105199001010023",
            "photo": b"123",
            "name": "李四",
            "birth_date": "1990-01-01",
            "card_type": "foreign_permanent_residence",
            "english_name": "TESTER, JANE",
        }
    )
    assert out == {"present": True, "card_type": "foreign_permanent_residence"}


def test_the_agents_commands_are_the_contracts(tmp_path) -> None:
    """Every command name the contract declares has a handler (update: under the launcher)."""
    from edge_agent.commands import CommandService
    from govedge.contract import CommandName
    from tests.edge_agent.conftest import device_config, write_config

    path = write_config(
        tmp_path / "names.json",
        device_config("names-1", "mqtt://127.0.0.1:1", tmp_path / "names.state"),
    )
    agent = build_agent(path)
    try:
        handlers = agent.commands.handlers
        assert isinstance(agent.commands, CommandService)
        assert set(handlers) == set(CommandName) - {CommandName.UPDATE}
        assert all(isinstance(name, CommandName) for name in handlers)
    finally:
        agent.database.close()


def test_a_result_the_hub_would_refuse_is_acknowledged_as_a_failure(tmp_path) -> None:
    """The ack is held to the contract's check() before it is queued: a result key past the
    contract's name length would have the hub drop the ack (and the command hang until it
    expires); the device acks ok=false with the reason instead."""
    from govedge.contract import decode
    from tests.edge_agent.conftest import device_config, write_config

    path = write_config(
        tmp_path / "ack.json",
        device_config("ack-1", "mqtt://127.0.0.1:1", tmp_path / "ack.state"),
    )
    agent = build_agent(path)
    try:
        assert agent.device_state.claim_command("c-1", agent.boot_id)
        asyncio.run(agent.commands._ack("c-1", True, result={"k" * 65: 1}))
        (row,) = agent.outbox.fetch(0, 10)
        ack = decode(row.payload)
        assert isinstance(ack, CommandAck) and row.topic == "gov/v1/ack-1/cmd/ack"
        assert not ack.data.ok and "breaks the contract" in ack.data.error
        assert agent.device_state.command_state("c-1") == "done"
        assert agent.counters["commands_refused"] == 1
    finally:
        agent.database.close()


def test_messages_are_routed_by_the_contracts_topic_parser(tmp_path) -> None:
    """Only this device's own cmd / config/desired topics reach their handlers; a topic that
    merely ends the same way (another device, another root, a deeper level) does not."""
    from govedge.contract import Channel
    from tests.edge_agent.conftest import device_config, write_config

    path = write_config(
        tmp_path / "route.json",
        device_config("route-1", "mqtt://127.0.0.1:1", tmp_path / "route.state"),
    )
    agent = build_agent(path)
    seen: list[tuple[str, str]] = []
    agent.message_handlers[Channel.CMD] = lambda t, p: seen.append(("cmd", t))
    agent.message_handlers[Channel.CONFIG_DESIRED] = lambda t, p: seen.append(("config", t))
    try:
        for topic_name in (
            "gov/v1/route-1/cmd",
            "gov/v1/route-1/config/desired",
            "gov/v1/other-2/cmd",
            "other/root/route-1/cmd",
            "gov/v1/route-1/x/cmd",
            "gov/v1/route-1/telemetry",
        ):
            agent._dispatch(topic_name, b"{}")
        assert seen == [
            ("cmd", "gov/v1/route-1/cmd"),
            ("config", "gov/v1/route-1/config/desired"),
        ]
    finally:
        agent.database.close()
