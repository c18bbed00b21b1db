"""The flood scenario, played by a scale-mode fleet, raises the river-level alarms it must."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

import hub.app
from hub.alarms.api import ALARM_ENGINE
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
    store = rh.hub.extensions[ALARM_ENGINE].store

    async def kinds(device_id: str) -> list[tuple[str, str]]:
        events = await asyncio.to_thread(store.events_of, device_id)
        # Only this test's rule: the shipped city rules watch the same gauges too.
        return [(e["kind"], e["severity"]) for e in events if e["rule_id"] == "sim-flood"]

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


def _threshold(metric: str, levels: list[tuple[str, float, float]], ids: list[str]) -> Any:
    return {
        "name": metric,
        "kind": "threshold",
        "metric": metric,
        "direction": "above",
        "levels": [{"severity": s, "raise": r, "clear": c} for s, r, c in levels],
        "update_interval_s": 0,
        "scope": {"ids": ids},
    }


async def test_fire_and_air_pollution_raise_their_alarms(
    monkeypatch: pytest.MonkeyPatch, hub_config: Any, start_hub: Any, mqtt_broker: Any
) -> None:
    monkeypatch.setattr(hub.app, "EXTENSION_MODULES", ("hub.alarms.setup",))
    rh = await start_hub(hub_config())
    layout = FleetLayout.generate(40, prefix=f"fire{uuid.uuid4().hex[:6]}")
    await register_devices(rh.url, rh.admin_token, layout.devices)
    burning = layout.ids(layout.select({"kind": "building_sensor", "site": "d0-bldg-0"}))
    buildings = layout.ids(layout.select({"kind": "building_sensor"}))
    stations = layout.ids(layout.select({"kind": "air_station", "district": "d0"}))
    rules = {
        "sim-smoke": _threshold("smoke_alarm", [("critical", 0.5, 0.4)], buildings),
        "sim-heat": _threshold("room.temperature", [("major", 57.0, 50.0)], buildings),
        "sim-pm25": _threshold(
            "pm2_5",
            [("minor", 75.0, 70.0), ("major", 150.0, 140.0), ("critical", 250.0, 240.0)],
            stations,
        ),
    }
    for rule_id, definition in rules.items():
        status, body = await rh.call("PUT", f"/api/v1/rules/{rule_id}", json=definition)
        assert status in (200, 201), body

    fleet = ScaleFleet(layout, mqtt_broker.url, interval_s=0.1, noise=0.0)
    await fleet.start()
    try:
        assert await fleet.wait_connected(within_s=20)
        fire, air = load_scenario("fire"), load_scenario("air_pollution")
        await asyncio.gather(
            ScenarioPlayer(fire, fleet, speed=fire.duration_s / 6, tick_s=0.02).run(),
            ScenarioPlayer(air, fleet, speed=air.duration_s / 6, tick_s=0.02).run(),
        )
        await asyncio.sleep(0.5)
    finally:
        await fleet.stop()
    store = rh.hub.extensions[ALARM_ENGINE].store

    async def raised(device_id: str) -> list[tuple[str, str]]:
        events = await asyncio.to_thread(store.events_of, device_id)
        return [
            (e["rule_id"], e["severity"])
            for e in events
            if e["kind"] in ("raised", "escalated") and e["rule_id"].startswith("sim-")
        ]

    async def all_raised() -> bool:
        counts = [len(await raised(d)) for d in burning + stations]
        return all(c >= 2 for c in counts[: len(burning)]) and all(
            c >= 3 for c in counts[len(burning) :]
        )

    try:
        await rh.wait_for(all_raised, timeout=30)
    except AssertionError:
        seen = {d: await raised(d) for d in burning + stations}
        rejected = dict(rh.hub.pipeline.rejected)
        raise AssertionError(f"alarms raised per device: {seen}; rejected: {rejected}") from None
    for device_id in burning:
        assert sorted(await raised(device_id)) == [("sim-heat", "major"), ("sim-smoke", "critical")]
    for device_id in stations:
        assert await raised(device_id) == [
            ("sim-pm25", "minor"),
            ("sim-pm25", "major"),
            ("sim-pm25", "critical"),
        ]
    # Only the burning building: its neighbours stay quiet.
    for device_id in set(buildings) - set(burning):
        assert await raised(device_id) == []
