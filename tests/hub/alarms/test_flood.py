"""A flood: water rising past three lines at three gauges, then falling back (real broker)."""

from __future__ import annotations

from typing import Any

FLOOD_RULE = {
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


async def test_flood_at_three_gauges(alarm_hub: Any, device_factory: Any, kit: Any) -> None:
    rh = await alarm_hub()
    model = kit.uid("gauge")
    ids = [kit.uid("g") for _ in range(3)]
    for i, device_id in enumerate(ids):
        await kit.register(
            rh,
            device_id,
            model=model,
            site=f"river-{i}",
            location={"lat": 30.0 + i / 100, "lon": 120.0},
        )
    await kit.put_rule(rh, "flood", {**FLOOD_RULE, "scope": {"model": model}})
    g1, g2, g3 = (device_factory(d) for d in ids)

    # g3 stays below every line (sent first: its batches are evaluated before the others').
    for level in (2.4, 2.6, 2.99, 2.7):
        g3.telemetry(water_level_m=level, temperature=20.0)
    await rh.wait_for(lambda: _received(rh, ids[2], 4))
    # g1 climbs to critical; a dip to 2.95 is inside the hysteresis band and clears nothing.
    for level in (2.5, 3.2, 3.25, 2.95, 4.1, 5.3, 5.9, 4.95, 2.0):
        g1.telemetry(water_level_m=level)
    # g2 reaches major, falls back to minor (3.5 < 3.9), then clears.
    for level in (3.5, 4.2, 3.95, 3.5, 2.8):
        g2.telemetry(water_level_m=level)

    async def done() -> bool:
        return (await kit.kinds(rh, ids[0]))[-1:] == [("cleared", "critical")] and (
            await kit.kinds(rh, ids[1])
        )[-1:] == [("cleared", "minor")]

    await rh.wait_for(done)
    assert await kit.kinds(rh, ids[0]) == [
        ("raised", "minor"),
        ("escalated", "major"),
        ("escalated", "critical"),
        ("updated", "critical"),  # 5.3 -> 5.9 moved by more than update_step
        ("updated", "critical"),  # 4.95: still critical (clears below 4.9)
        ("cleared", "critical"),
    ]
    assert await kit.kinds(rh, ids[1]) == [
        ("raised", "minor"),
        ("escalated", "major"),
        ("updated", "minor"),
        ("cleared", "minor"),
    ]
    assert await kit.kinds(rh, ids[2]) == []

    page = await rh.get("/api/v1/alarms", device=ids[0])
    assert page["total"] == 1
    alarm = page["items"][0]
    assert alarm["state"] == "cleared" and alarm["cleared_by"] == "rule"
    assert alarm["site"] == "river-0" and alarm["location"] == {"lat": 30.0, "lon": 120.0}
    assert alarm["value"] == 2.0
    detail = await rh.get(f"/api/v1/alarms/{alarm['id']}")
    assert [h["kind"] for h in detail["history"]] == [
        "raised",
        "escalated",
        "escalated",
        "updated",
        "updated",
        "cleared",
    ]
    assert [h["alarm"]["value"] for h in detail["history"]] == [3.2, 4.1, 5.3, 5.9, 4.95, 2.0]
    assert detail["history"][0]["alarm"]["location"] == {"lat": 30.0, "lon": 120.0}
    assert (await rh.get("/api/v1/alarms", state="active"))["total"] == 0
    assert (await rh.get("/api/v1/alarms", site="river-1"))["total"] == 1
    assert (await rh.get("/api/v1/alarms", severity="critical"))["total"] == 1

    # The water comes back: a new alarm, not the old one revived.
    g1.telemetry(water_level_m=3.4)
    await rh.wait_for(lambda: _active_total(rh, ids[0]))
    page = await rh.get("/api/v1/alarms", device=ids[0])
    assert page["total"] == 2 and page["items"][0]["id"] != alarm["id"]


def _received(rh: Any, device_id: str, n: int) -> bool:
    streams = rh.hub.pipeline.tracker.streams
    return any(k[0] == device_id and s.received >= n for k, s in list(streams.items()))


async def _active_total(rh: Any, device_id: str) -> bool:
    page = await rh.get("/api/v1/alarms", device=device_id, state="active")
    return bool(page["total"])
