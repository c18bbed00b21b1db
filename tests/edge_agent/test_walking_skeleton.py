"""The thinnest real path on the device side: a simulated SHT20 on a pty -> the Modbus driver ->
the agent -> the outbox -> a real Mosquitto, as a subscriber sees it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_agent.runtime import build_agent
from govedge.contract import Status, Telemetry


def _sht20(sim_url: str, interval: float = 0.05) -> list[dict[str, object]]:
    return [
        {
            "name": "climate",
            "kind": "modbus",
            "url": sim_url,
            "options": {"profile": "sht20", "unit": 1},
            "poll_interval_s": interval,
        }
    ]


@pytest.mark.parametrize("version", ["5", "3.1.1"])
async def test_sensor_telemetry_reaches_the_broker(
    mqtt_broker, modbus_sim, make_config, collector_factory, run_until, version
):
    device = f"skel-{version.replace('.', '')}"
    col = collector_factory(mqtt_broker.host, mqtt_broker.port, f"gov/v1/{device}/#")
    path = make_config(
        device,
        mqtt_broker.url,
        _sht20(modbus_sim.url),
        broker={"mqtt_version": version},
    )
    agent = build_agent(path)
    assert await run_until(agent, lambda: len(col.of_type(Telemetry)) >= 3)
    col.wait_for(lambda: any(not s.data.online for s in col.of_type(Status)), 5)

    telemetry = col.of_type(Telemetry)
    first = telemetry[0]
    assert first.device_id == device
    assert first.boot_id == agent.boot_id
    assert first.data == {"temperature": 21.5, "humidity": 40.0}
    seqs = [m.seq for m in telemetry]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)

    statuses = col.of_type(Status)
    assert statuses[0].data.online and statuses[0].boot_id == agent.boot_id
    assert statuses[0].data.model == "test-cabinet"
    assert not statuses[-1].data.online and statuses[-1].data.reason == "shutdown"
    retained = [r for t, _, r in col.raw if t.endswith("/status")]
    assert retained  # status is published retained (seen live first, so retain flag is off)
    assert col.bad == []


async def test_seq_survives_restart_and_boot_id_changes(
    mqtt_broker, modbus_sim, make_config, collector_factory, run_until
):
    device = "skel-restart"
    col = collector_factory(mqtt_broker.host, mqtt_broker.port, f"gov/v1/{device}/telemetry")
    path = make_config(device, mqtt_broker.url, _sht20(modbus_sim.url))
    boots = []
    for _ in range(2):
        agent = build_agent(path)
        before = len(col.of_type(Telemetry))
        assert await run_until(agent, lambda b=before: len(col.of_type(Telemetry)) >= b + 3)
        boots.append(agent.boot_id)
    assert boots[0] != boots[1]
    col.wait_for(lambda: False, 0.2)  # let the last acknowledged messages arrive
    msgs = col.of_type(Telemetry)
    first = [m.seq for m in msgs if m.boot_id == boots[0]]
    second = [m.seq for m in msgs if m.boot_id == boots[1]]
    assert first and second
    assert min(second) > max(first)


def test_govedge_agent_command_publishes_and_leaves_a_will_when_killed(
    mqtt_broker, modbus_sim, make_config, collector_factory, agent_process
):
    device = "skel-cli"
    col = collector_factory(mqtt_broker.host, mqtt_broker.port, f"gov/v1/{device}/#")
    path = make_config(device, mqtt_broker.url, _sht20(modbus_sim.url))
    proc = agent_process(path)
    proc.start()
    assert col.wait_for(lambda: len(col.of_type(Telemetry)) >= 2, 15), proc.log_path.read_text()
    births = [s for s in col.of_type(Status) if s.data.online]
    assert births
    proc.kill()
    # The broker notices the dead connection and publishes the retained will.
    assert col.wait_for(
        lambda: any(
            not s.data.online and s.boot_id == births[0].boot_id for s in col.of_type(Status)
        ),
        10,
    )


def test_check_config_accepts_the_shipped_sensor_cabinet(tmp_path: Path, capsys) -> None:
    from govedge.cli import main

    shipped = Path(__file__).resolve().parents[2] / "firmware_configs" / "devices"
    for path in sorted(shipped.glob("*.json")):
        assert main(["agent", "check-config", str(path)]) == 0, path
        assert "ok" in capsys.readouterr().out
    config = json.loads((shipped / "sensor-cabinet-sht20.json").read_text())
    assert config["drivers"][0]["kind"] == "modbus"
