"""The flood scenario, played by a scale-mode fleet, raises the river-level alarms it must."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

import hub.app
from sim.fleet import FleetLayout, ScaleFleet, ScenarioPlayer, load_scenario
from sim.fleet.hub_registration import register_devices

RIVER_RULE = {
    "name": "River level",
    "kind": "threshold",
    "metric": "water_level_m",
    "direction": "above",
    "levels": [
        {"severity": "minor", "raise": 3.0, "clear": 2.9},
        {"severity": "major", "raise": 4.0, "clear": 3.9},
        {"severity": "critical", "raise": 5.0, "clear": 4.9},
    ],
    "update_step": 0.5,
    "update_interval_s": 0,
}


async def test_flood_raises_and_clears_river_alarms(
    monkeypatch: pytest.MonkeyPatch, hub_config: Any, start_hub: Any, mqtt_broker: Any
) -> None:
    monkeypatch.setattr(hub.app, "EXTENSION_MODULES", ("hub.alarms.setup",))
    rh = await start_hub(hub_config())
    layout = FleetLayout.generate(40, prefix=f"flood{uuid.uuid4().hex[:6]}")
    await register_devices(rh.url, rh.admin_token, layout.devices)
    gauges = layout.ids(layout.select({"kind": "river_gauge"}))
    status, body = await rh.call(
        "PUT", "/api/v1/rules/sim-flood", json={**RIVER_RULE, "scope": {"ids": gauges}}
    )
    assert status in (200, 201), body

    scenario = load_scenario("flood")
    fleet = ScaleFleet(layout, mqtt_broker.url, interval_s=0.1, noise=0.0)
    await fleet.start()
    try:
        assert await fleet.wait_connected(within_s=20)
        # 1800 scenario seconds in 6 s: a reading every 30 scenario seconds per gauge.
        await ScenarioPlayer(scenario, fleet, speed=300, tick_s=0.02).run()
        await asyncio.sleep(0.5)
    finally:
        await fleet.stop()
    store = rh.hub.extras["alarm_engine"].store

    async def kinds(device_id: str) -> list[tuple[str, str]]:
        events = await asyncio.to_thread(store.events_of, device_id)
        return [(e["kind"], e["severity"]) for e in events]

    async def first_cleared() -> bool:
        return (await kinds(gauges[0]))[-1:] == [("cleared", "minor")]  # 2.8 m at the end

    await rh.wait_for(first_cleared, timeout=15)
    for device_id in gauges:
        seen = [k for k in await kinds(device_id) if k[0] != "updated"]
        # Every gauge crosses all three lines on the way up (peak 5.6 m); falling back lowers
        # the severity step by step (updates), it does not open new alarms.
        assert seen[:3] == [("raised", "minor"), ("escalated", "major"), ("escalated", "critical")]
        assert all(k[0] != "raised" for k in seen[1:])
    # The upstream gauge, whose wave has passed (2.8 m at the end), cleared from minor
    # (awaited above); downstream gauges lag 6 scenario seconds each and may still be high.
    # The other devices of the fleet raise nothing.
    others = [d for d in layout.ids() if d not in gauges]
    for device_id in others[:5]:
        assert await kinds(device_id) == []
