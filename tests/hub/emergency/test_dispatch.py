"""Resources, nearest resources of an alarm, assignment tracked to closure, acknowledgement."""

from __future__ import annotations

import asyncio
from typing import Any

BASE = (31.2300, 121.4700)


async def add(rh: Any, kind: str, name: str, dlat: float, capacity: int = 10) -> dict[str, Any]:
    status, body = await rh.call(
        "POST",
        "/api/v1/resources",
        json={
            "kind": kind,
            "name": name,
            "location": {"lat": BASE[0] + dlat, "lon": BASE[1]},
            "capacity": capacity,
        },
    )
    assert status == 201, body
    return dict(body)


async def test_resources_nearest_and_dispatch_to_closure(
    hub_config: Any, start_hub: Any, alarm_writer: Any
) -> None:
    rh = await start_hub(hub_config())
    writer = alarm_writer(rh.hub.engine)
    await asyncio.to_thread(
        rh.hub.registry.register_many,
        [{"id": "gauge-1", "model": "water-level", "location": {"lat": BASE[0], "lon": BASE[1]}}],
    )
    far = await add(rh, "team", "Pudong rescue", 0.10)
    near = await add(rh, "team", "Huangpu rescue", 0.01, 12)
    shelter = await add(rh, "shelter", "No. 3 school", -0.02, 300)
    bags = await add(rh, "supply", "Sandbags", 0.005, 2000)
    assert shelter["available"] == 300

    alarm_id = await asyncio.to_thread(writer.raise_alarm, "gauge-1", severity="critical")
    nearest = await rh.get(f"/api/v1/alarms/{alarm_id}/nearest")
    assert [r["id"] for r in nearest["items"]] == [bags["id"], near["id"], shelter["id"], far["id"]]
    assert 1100 < nearest["items"][1]["distance_m"] < 1125  # 0.01 degree of latitude
    teams = await rh.get(f"/api/v1/alarms/{alarm_id}/nearest", kind="team", limit=1)
    assert [r["id"] for r in teams["items"]] == [near["id"]]

    status, err = await rh.call(
        "POST", f"/api/v1/alarms/{alarm_id}/dispatch", json={"state": "on_site"}
    )
    assert status == 400 and "not assigned" in err["error"]
    status, err = await rh.call(
        "POST", f"/api/v1/alarms/{alarm_id}/assign", json={"team": shelter["id"]}
    )
    assert status == 400 and "not a team" in err["error"]

    status, alarm = await rh.call(
        "POST", f"/api/v1/alarms/{alarm_id}/assign", json={"team": near["id"], "by": "duty-1"}
    )
    assert status == 200, alarm
    assert alarm["assigned_team"] == str(near["id"]) and alarm["dispatch_state"] == "assigned"
    assert alarm["location"] == {"lat": BASE[0], "lon": BASE[1]}  # the alarm view, place included
    status, ack = await rh.call("POST", f"/api/v1/alarms/{alarm_id}/ack", json={"note": "on it"})
    assert status == 200 and ack["acknowledged"] and ack["ack_by"] == "tests"
    for state in ("en_route", "on_site", "resolved"):
        status, alarm = await rh.call(
            "POST", f"/api/v1/alarms/{alarm_id}/dispatch", json={"state": state}
        )
        assert status == 200 and alarm["dispatch_state"] == state
    status, err = await rh.call(
        "POST", f"/api/v1/alarms/{alarm_id}/dispatch", json={"state": "en_route"}
    )
    assert status == 400
    kinds = await asyncio.to_thread(writer.event_kinds, alarm_id)
    assert kinds == ["raised", "assigned", "acknowledged", "dispatch", "dispatch", "dispatch"]
    status, _ = await rh.call("POST", "/api/v1/alarms/999999/assign", json={"team": near["id"]})
    assert status == 404


async def test_resource_crud_and_validation(hub_config: Any, start_hub: Any) -> None:
    rh = await start_hub(hub_config())
    for body, word in (
        ({"kind": "boat", "name": "x", "location": {"lat": 1, "lon": 1}}, "kind"),
        ({"kind": "team", "name": "x", "location": {"lat": 91, "lon": 1}}, "lat"),
        ({"kind": "team", "name": "x"}, "lat"),
        ({"kind": "team", "name": "x", "lat": 1, "lon": 1, "capacity": -1}, "capacity"),
        ({"kind": "team", "name": "x", "lat": 1, "lon": 1, "boats": 2}, "boats"),
    ):
        status, err = await rh.call("POST", "/api/v1/resources", json=body)
        assert status == 400 and word in err["error"], err
    res = await add(rh, "supply", "Pumps", 0.0, 8)
    status, changed = await rh.call(
        "PUT", f"/api/v1/resources/{res['id']}", json={"available": 5, "unit": "pumps"}
    )
    assert status == 200 and (changed["available"], changed["capacity"]) == (5, 8)
    viewer = await asyncio.to_thread(rh.hub.tokens.create, "viewer", "wall")
    listed = await rh.get("/api/v1/resources", viewer, kind="supply")
    assert [r["name"] for r in listed["items"]] == ["Pumps"]
    status, _ = await rh.call("POST", "/api/v1/resources", token=viewer, json={})
    assert status == 403
    status, _ = await rh.call("DELETE", f"/api/v1/resources/{res['id']}")
    assert status == 200
    status, _ = await rh.call("GET", f"/api/v1/resources/{res['id']}")
    assert status == 404
    doc = await rh.get("/api/v1/openapi.json")
    assert "/api/v1/feed" in doc["paths"] and "/api/v1/alarms/{alarm_id}/assign" in doc["paths"]
    assert doc["paths"]["/api/v1/webhooks/dead-letters"]["get"]["x-roles"] == ["admin", "emergency"]
