"""Fidelity mode: real edge agents polling real Modbus drivers over ptys against the sensor
simulators, driven by a scenario, with links cut at the network level."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from govedge.cli import main
from sim.fleet import FleetLayout, ScenarioPlayer, load_scenario
from sim.fleet.fidelity import FidelityFleet

from .test_scale import Watcher


async def until(check: Callable[[], bool], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_agents_over_simulators_follow_the_fire_scenario(mqtt_broker: Any) -> None:
    layout = FleetLayout.generate(12, prefix="fid1")
    watcher = Watcher(mqtt_broker.host, mqtt_broker.port, "fid1")
    fleet = FidelityFleet(layout, mqtt_broker.url, poll_interval_s=0.1)
    await fleet.start()
    try:
        assert fleet.skipped == 3  # the kiosks
        await until(lambda: fleet.connected() == 9)
        building = layout.select({"kind": "building_sensor", "site": "d0-bldg-0"})[0].device_id
        await until(lambda: len(watcher.telemetry.get(building, [])) >= 2)
        scenario = load_scenario("fire")
        await ScenarioPlayer(scenario, fleet, speed=scenario.duration_s / 1.5, tick_s=0.02).run()

        def peak(metric: str) -> float:
            with watcher.lock:
                return max(m.data.get(metric, 0.0) for m in watcher.telemetry[building])

        await until(lambda: peak("smoke_alarm") == 1.0 and peak("room.temperature") > 50)
        assert peak("obscuration") > 4

        # The link of one gauge is cut at the network: the broker publishes the agent's will.
        gauge = layout.select({"kind": "river_gauge"})[0].device_id
        fleet.set_link([gauge], False)
        await until(lambda: not watcher.status[gauge].data.online)
        assert watcher.status[gauge].data.reason == "connection lost"
        assert watcher.status[gauge].boot_id == fleet.cabinets[gauge].agent.boot_id
        fleet.set_link([gauge], True)
        await until(lambda: watcher.status[gauge].data.online, within=20)
    finally:
        await fleet.stop()
        watcher.close()


def test_cli_runs_fidelity_mode(mqtt_broker: Any, capsys: Any) -> None:
    code = main(
        [
            "sim",
            "fleet",
            "--mode",
            "fidelity",
            "--devices",
            "4",
            "--duration",
            "2",
            "--broker",
            mqtt_broker.url,
            "--interval",
            "0.2",
            "--seed",
            "3",
        ]
    )
    assert code == 0
    assert "agents connected 3/3" in capsys.readouterr().out
