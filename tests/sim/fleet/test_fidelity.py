"""Fidelity mode: real edge agents driving real drivers against the wire-level simulators
(Modbus sensor buses, kiosk ID reader, fingerprint module, printer and camera, inspector GNSS),
driven by a scenario, with links cut at the network level."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from govedge.cli import main
from sim.fleet import FleetLayout, ScenarioPlayer, load_scenario
from sim.fleet.fidelity import FidelityFleet

from .test_scale import Watcher


async def until(check: Callable[[], bool], within: float = 60.0) -> None:
    """Wait for ``check`` (returns as soon as it holds). Real agents over real simulators start
    in a few seconds alone; the bound is wide for a full suite on two shared cores."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_agents_over_simulators_follow_the_fire_scenario(mqtt_broker: Any) -> None:
    layout = FleetLayout.generate(15, prefix="fid1")
    sensors = FleetLayout(tuple(d for d in layout.devices if d.kind not in ("kiosk", "inspector")))
    watcher = Watcher(mqtt_broker.host, mqtt_broker.port, "fid1")
    fleet = FidelityFleet(sensors, mqtt_broker.url, poll_interval_s=0.1)
    await fleet.start()
    try:
        assert fleet.skipped == 0
        await until(lambda: fleet.connected() == 9)
        building = layout.select({"kind": "building_sensor", "site": "d0-bldg-0"})[0].device_id
        await until(lambda: len(watcher.telemetry.get(building, [])) >= 2)
        scenario = load_scenario("fire")
        # Five seconds of play: the peak (smoke from 180 s to 850 s of 900) lasts long enough for
        # agents polling every 0.1 s to see it even on two loaded cores.
        await ScenarioPlayer(scenario, fleet, speed=scenario.duration_s / 5, tick_s=0.02).run()

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
        await until(lambda: watcher.status[gauge].data.online, within=60)
    finally:
        await fleet.stop()
        watcher.close()


async def test_kiosks_and_inspectors_run_their_real_drivers(mqtt_broker: Any) -> None:
    layout = FleetLayout.generate(10, prefix="fid2")
    watcher = Watcher(mqtt_broker.host, mqtt_broker.port, "fid2")
    fleet = FidelityFleet(layout, mqtt_broker.url, poll_interval_s=0.2)
    await fleet.start()
    try:
        assert fleet.skipped == 0 and len(fleet.cabinets) == 10
        await until(lambda: fleet.connected() == 10, within=60)
        kiosk = layout.select({"kind": "kiosk"})[0]
        inspector = layout.select({"kind": "inspector"})[0]

        def latest(device_id: str) -> dict[str, float]:
            with watcher.lock:
                merged: dict[str, float] = {}
                for msg in watcher.telemetry.get(device_id, []):
                    merged.update(msg.data)
                return merged

        # Each driver answered over its wire: SAM status and no card (GA/T 467), the module's
        # template count (R30x), the paper sensor (DLE EOT), frames from the camera.
        await until(
            lambda: (
                {"sam_ok", "card_present", "templates", "paper_out", "frames"}
                <= set(latest(kiosk.device_id))
            ),
            within=60,
        )
        seen = latest(kiosk.device_id)
        assert seen["sam_ok"] == 1.0 and seen["card_present"] == 0.0 and seen["paper_out"] == 0.0
        # The printer scenario reaches the printer's paper sensor, and the driver reads it.
        scenario = load_scenario("printer_paper_out")
        player = ScenarioPlayer(scenario, fleet)
        player.apply_values(300)
        assert fleet.cabinets[kiosk.device_id].sims["printer"].engine.state.paper_out
        await until(lambda: latest(kiosk.device_id).get("paper_out") == 1.0)
        # The inspector's GNSS fix, parsed from NMEA, is near its place in the city.
        await until(lambda: "lat" in latest(inspector.device_id), within=60)
        fix = latest(inspector.device_id)
        assert abs(fix["lat"] - inspector.lat) < 0.01 and abs(fix["lon"] - inspector.lon) < 0.01
        assert fix["satellites"] >= 4
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
    assert "agents connected 4/4" in capsys.readouterr().out  # three cabinets and a kiosk
