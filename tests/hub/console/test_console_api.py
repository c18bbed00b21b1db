"""The console's read routes and the audit log, over HTTP against a real hub and broker."""

from __future__ import annotations

import asyncio
from typing import Any

from sim.fleet.layout import FleetLayout


async def _fleet(rh: Any, sim_fleet: Any) -> list[str]:
    specs = list(FleetLayout.generate(100, seed=5, prefix="api").devices)
    await asyncio.to_thread(rh.hub.registry.register_many, [s.registration() for s in specs])
    fleet = await sim_fleet(specs[:60])
    online = [s.device_id for s in specs[:60]]
    fleet.send_health(online[0], {"printer": ("user_error", "paper out")})
    await rh.wait_for(lambda: rh.hub.registry.online_count() >= 60, timeout=15)
    await rh.wait_for(lambda: rh.hub.registry.get(online[0]).health is not None)
    return online


async def test_device_list_filters_on_the_server(
    hub_config: Any, start_hub: Any, sim_fleet: Any
) -> None:
    rh = await start_hub(hub_config())
    online = await _fleet(rh, sim_fleet)
    await asyncio.sleep(1.1)  # past the one-second cache
    page = await rh.get("/api/v1/console/devices", state="offline", limit=10)
    assert page["total"] == 40 and len(page["items"]) == 10
    assert all(d["state"] == "offline" for d in page["items"])
    assert page["items"][0]["problems"][0]["kind"] == "offline"
    second = await rh.get("/api/v1/console/devices", state="offline", limit=10, offset=10)
    assert {d["id"] for d in second["items"]}.isdisjoint({d["id"] for d in page["items"]})
    degraded = await rh.get("/api/v1/console/devices", state="degraded")
    assert [d["id"] for d in degraded["items"]] == [online[0]]
    assert degraded["items"][0]["problems"][0]["kind"] == "paper_out"
    site = page["items"][0]["site"]
    by_site = await rh.get("/api/v1/console/devices", site=site, state="offline")
    assert by_site["total"] >= 1 and all(d["site"] == site for d in by_site["items"])
    assert site in by_site["facets"]["sites"]
    assert (await rh.get("/api/v1/console/devices", firmware="sim-1"))["total"] == 100
    assert (await rh.get("/api/v1/console/devices", firmware="other"))["total"] == 0
    assert (await rh.get("/api/v1/console/devices", config_version="0"))["total"] == 100
    assert (await rh.get("/api/v1/console/devices", label="kind=kiosk"))["total"] == 20
    found = await rh.get("/api/v1/console/devices", q=online[0][-5:])
    assert online[0] in {d["id"] for d in found["items"]}
    # searched in SQL: a label as key=value, any case; LIKE's wildcards are plain characters
    assert (await rh.get("/api/v1/console/devices", q="KIND=Kiosk"))["total"] == 20
    assert (await rh.get("/api/v1/console/devices", q="%"))["total"] == 0
    assert (await rh.get("/api/v1/console/devices", state="online"))["total"] == 59
    never_seen = await rh.get("/api/v1/console/devices", sort="last_seen", limit=1)
    assert never_seen["items"][0]["state"] == "offline"
    # the first page alone, and the filters' values on their own route
    bare = await rh.get("/api/v1/console/devices", state="offline", limit=5, facets="false")
    assert "facets" not in bare and bare["total"] == 40 and len(bare["items"]) == 5
    facets = await rh.get("/api/v1/console/facets")
    assert facets["firmwares"] == ["sim-1"] and site in facets["sites"]
    assert facets["config_versions"] == [0]
    status, body = await rh.call("GET", "/api/v1/console/devices?state=asleep")
    assert status == 400 and "state" in body["error"]

    overview = await rh.get("/api/v1/console/overview")
    assert overview["total"] == {"online": 59, "offline": 40, "degraded": 1, "devices": 100}
    assert overview["attention_total"] == 41
    assert overview["attention_kinds"] == {"offline": 40, "paper_out": 1}
    assert sum(c["offline"] for c in overview["by_site"].values()) == 40
    positions = overview["positions"]
    assert len(positions["ids"]) == len(positions["lon"]) == len(positions["state"]) == 100
    states = positions["states"]
    assert sum(states[s] == "offline" for s in positions["state"]) == 40

    detail = await rh.get(f"/api/v1/console/devices/{online[0]}")
    assert detail["state"] == "degraded" and detail["history"][0]["online"] is True
    status, _ = await rh.call("GET", "/api/v1/console/devices/nope")
    assert status == 404


async def test_audit_log_records_every_change_and_only_admins_read_it(
    hub_config: Any, start_hub: Any, sim_fleet: Any
) -> None:
    rh = await start_hub(hub_config())
    online = await _fleet(rh, sim_fleet)
    operator = await asyncio.to_thread(rh.hub.tokens.create, "operator", "night-shift")
    status, sent = await rh.call(
        "POST",
        "/api/v1/commands",
        token=operator,
        json={"name": "ping", "selector": {"ids": online[:3]}},
    )
    assert status == 201
    status, _ = await rh.call(
        "POST", "/api/v1/commands", token=operator, json={"name": "", "selector": {}}
    )
    assert status == 400
    status, ro = await rh.call(
        "POST",
        "/api/v1/rollouts",
        token=operator,
        json={"selector": {"ids": online[:10]}, "config": {}, "max_failures": 0},
    )
    assert status == 201
    status, halted = await rh.call("POST", f"/api/v1/rollouts/{ro['id']}/halt", token=operator)
    assert status == 200 and halted["state"] == "halted"
    status, again = await rh.call("POST", f"/api/v1/rollouts/{ro['id']}/halt", token=operator)
    assert status == 400 and "halted" in again["error"]
    status, resumed = await rh.call(
        "POST", f"/api/v1/rollouts/{ro['id']}/resume", token=operator, json={"max_failures": 3}
    )
    assert status == 200 and resumed["state"] == "running" and resumed["max_failures"] == 3

    status, _ = await rh.call("GET", "/api/v1/audit", token=operator)
    assert status == 403
    log = await rh.get("/api/v1/audit")
    actions = [(a["action"], a["status"]) for a in log["items"]]
    assert actions[:5] == [
        ("POST /rollouts/{rollout_id}/resume", 200),
        ("POST /rollouts/{rollout_id}/halt", 400),
        ("POST /rollouts/{rollout_id}/halt", 200),
        ("POST /rollouts", 201),
        ("POST /commands", 400),
    ]
    ping = next(a for a in log["items"] if a["action"] == "POST /commands" and a["status"] == 201)
    assert ping["actor"] == "night-shift" and ping["role"] == "operator"
    assert ping["targets"]["count"] == 3 and ping["targets"]["command"] == "ping"
    assert ping["targets"]["selector"]["ids"] == online[:3]
    assert ping["remote"] == "127.0.0.1"
    rollout = next(a for a in log["items"] if a["action"] == "POST /rollouts")
    assert rollout["targets"]["count"] == 10
    refused = next(a for a in log["items"] if a["status"] == 400 and "commands" in a["action"])
    assert "name" in refused["error"]
    # searchable: by device, by actor, by text, by time
    by_device = await rh.get("/api/v1/audit", device=online[9])
    assert [a["action"] for a in by_device["items"]] == [  # halting a rollout touches its devices
        "POST /rollouts/{rollout_id}/resume",
        "POST /rollouts/{rollout_id}/halt",
        "POST /rollouts",
    ]
    assert (await rh.get("/api/v1/audit", actor="night-shift"))["total"] == 6
    assert (await rh.get("/api/v1/audit", q="resume"))["total"] == 1
    assert (await rh.get("/api/v1/audit", since="-1h"))["total"] >= 6
    assert (await rh.get("/api/v1/audit", until="-1h"))["total"] == 0
    assert sent["batch"] in str(ping["targets"])


async def test_certificate_shown_and_revoked(
    hub_config: Any, start_hub: Any, tmp_path: Any
) -> None:
    from provisioning.ca import FleetCA

    ca = FleetCA.init(tmp_path / "ca")
    ca.issue_device("cabinet-07", model="water-level-cabinet", site="d0-river")
    rh = await start_hub(hub_config(ca_dir=str(ca.directory)))
    await asyncio.to_thread(
        rh.hub.registry.register_many, [{"id": "cabinet-07", "site": "d0-river"}]
    )
    detail = await rh.get("/api/v1/console/devices/cabinet-07")
    serial = detail["certificate"]["serial"]
    assert [r.serial for r in ca.index.by_common_name("cabinet-07")] == [serial]
    assert detail["certificate"]["days_left"] > 300 and detail["certificate"]["state"] == "ok"

    viewer = await asyncio.to_thread(rh.hub.tokens.create, "viewer", "lobby")
    status, _ = await rh.call(
        "POST", "/api/v1/devices/cabinet-07/certificate/revoke", token=viewer, json={}
    )
    assert status == 403
    status, body = await rh.call(
        "POST", "/api/v1/devices/cabinet-07/certificate/revoke", json={"reason": "key_compromise"}
    )
    assert status == 200 and body["revoked"] == [serial]
    assert ca.index.get(int(serial, 16)).revoked  # type: ignore[union-attr]
    status, again = await rh.call("POST", "/api/v1/devices/cabinet-07/certificate/revoke", json={})
    assert status == 400 and "no unrevoked certificate" in again["error"]
    log = await rh.get("/api/v1/audit", device="cabinet-07")
    assert [(a["status"], a["role"]) for a in log["items"]] == [
        (400, "admin"),
        (200, "admin"),
        (403, "viewer"),
    ]
