"""The rules and alarms API over HTTP, with a real broker and a real database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from govedge.errors import ConfigError
from hub.alarms.rules import KINDS, RuleError, load_rule_files, parse_rule
from hub.alarms.setup import DEFAULT_RULES

LEVEL_RULE = {
    "kind": "threshold",
    "metric": "water_level_m",
    "levels": [{"severity": "major", "raise": 4.0, "clear": 3.9}],
}


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"kind": "nonsense"}, "kind"),
        ({**LEVEL_RULE, "colour": "red"}, "'colour'"),
        ({**LEVEL_RULE, "levels": [{"severity": "huge", "raise": 1}]}, "levels[0].severity"),
        (
            {**LEVEL_RULE, "levels": [{"severity": "minor", "raise": 3, "clear": 3.5}]},
            "levels[0].clear",
        ),
        (
            {
                **LEVEL_RULE,
                "levels": [{"severity": "major", "raise": 4}, {"severity": "minor", "raise": 5}],
            },
            "levels[1].severity",
        ),
        (
            {
                **LEVEL_RULE,
                "levels": [{"severity": "minor", "raise": 4}, {"severity": "major", "raise": 3}],
            },
            "levels[1].raise",
        ),
        ({**LEVEL_RULE, "levels": [{"severity": "minor", "raise": "4"}]}, "levels[0].raise"),
        ({"kind": "threshold", "levels": LEVEL_RULE["levels"]}, "metric"),
        ({**LEVEL_RULE, "for_s": -1}, "for_s"),
        ({**LEVEL_RULE, "scope": {"region": "x"}}, "'region'"),
        ({**LEVEL_RULE, "direction": "sideways"}, "direction"),
        ({"kind": "absence"}, "silent_s"),
        ({"kind": "offline", "severity": "fatal"}, "severity"),
        (
            {"kind": "composite", "window_s": 60, "conditions": [{"metric": "a", "above": 1}]},
            "conditions",
        ),
        (
            {
                "kind": "composite",
                "window_s": 60,
                "conditions": [{"metric": "a"}, {"metric": "b", "above": 1}],
            },
            "conditions[0]",
        ),
        ({**LEVEL_RULE, "enabled": "yes"}, "enabled"),
    ],
)
def test_bad_rules_are_refused_naming_the_key(body: dict[str, Any], named: str) -> None:
    with pytest.raises(RuleError) as info:
        parse_rule(body, "r1")
    assert named in str(info.value)


def test_rule_files(tmp_path: Path) -> None:
    assert {r.id for r in load_rule_files(DEFAULT_RULES)} >= {"cabinet-river-level"}
    (tmp_path / "a.json").write_text(json.dumps([{"id": "x", **LEVEL_RULE}]))
    (tmp_path / "b.json").write_text(json.dumps({"id": "y", "kind": "offline"}))
    assert [r.id for r in load_rule_files(tmp_path)] == ["x", "y"]
    (tmp_path / "c.json").write_text(json.dumps({"rules": [{"id": "x", "kind": "offline"}]}))
    with pytest.raises(ConfigError, match="also defined"):
        load_rule_files(tmp_path)
    (tmp_path / "c.json").write_text(json.dumps({"id": "z", "kind": "offline", "for_s": "a"}))
    with pytest.raises(ConfigError, match=r"c\.json: rule 'z': for_s"):
        load_rule_files(tmp_path)


async def test_rules_crud_and_refusals(alarm_hub: Any) -> None:
    rh = await alarm_hub()
    rules = await rh.get("/api/v1/rules")
    assert "cabinet-river-level" in {r["id"] for r in rules["items"]}  # seeded from the files
    status, body = await rh.call("PUT", "/api/v1/rules/river", json=LEVEL_RULE)
    assert status == 201 and body["id"] == "river" and body["enabled"] is True
    status, body = await rh.call("PUT", "/api/v1/rules/river", json={**LEVEL_RULE, "for_s": 5})
    assert status == 200 and body["for_s"] == 5
    assert (await rh.get("/api/v1/rules/river"))["for_s"] == 5
    status, body = await rh.call(
        "PUT", "/api/v1/rules/river", json={**LEVEL_RULE, "levels": [{"severity": "x", "raise": 1}]}
    )
    assert status == 400 and "levels[0].severity" in body["error"]
    status, body = await rh.call("PUT", "/api/v1/rules/bad%20id", json=LEVEL_RULE)
    assert status == 400 and "'id'" in body["error"]
    status, body = await rh.call("PUT", "/api/v1/rules/river", data=b"[1")
    assert status == 400 and "JSON" in body["error"]
    status, _ = await rh.call("DELETE", "/api/v1/rules/river")
    assert status == 200
    status, _ = await rh.call("DELETE", "/api/v1/rules/river")
    assert status == 404
    viewer = await asyncio.to_thread(rh.hub.tokens.create, "viewer", "wall-screen")
    status, _ = await rh.call("PUT", "/api/v1/rules/river", token=viewer, json=LEVEL_RULE)
    assert status == 403
    doc = await rh.get("/api/v1/openapi.json")
    assert "/api/v1/alarms/{alarm_id}/ack" in doc["paths"]


async def test_ack_and_manual_clear(alarm_hub: Any, device_factory: Any, kit: Any) -> None:
    rh = await alarm_hub()
    dev_id = kit.uid("gauge")
    await kit.register(rh, dev_id, site="dam", location={"lat": 30.5, "lon": 114.3})
    await kit.put_rule(rh, "lvl", {**LEVEL_RULE, "scope": {"ids": [dev_id]}})
    dev = device_factory(dev_id)
    dev.telemetry(water_level_m=4.5)
    page = await rh.wait_for(lambda: _page(rh, state="active", device=dev_id))
    alarm = page["items"][0]
    assert alarm["severity"] == "major" and not alarm["acknowledged"]

    emergency = await asyncio.to_thread(rh.hub.tokens.create, "emergency", "duty-officer-li")
    viewer = await asyncio.to_thread(rh.hub.tokens.create, "viewer")
    path = f"/api/v1/alarms/{alarm['id']}"
    status, _ = await rh.call("POST", path + "/ack", token=viewer, json={})
    assert status == 403
    status, body = await rh.call("POST", path + "/ack", token=emergency, json={"note": "team sent"})
    assert status == 200, body
    assert body["acknowledged"] and body["ack_by"] == "duty-officer-li"
    assert body["ack_note"] == "team sent" and body["ack_at"] > 0
    assert body["location"] == {"lat": 30.5, "lon": 114.3} and body["site"] == "dam"
    status, body = await rh.call("POST", path + "/ack", token=emergency)
    assert status == 400 and "already acknowledged" in body["error"]
    status, body = await rh.call("POST", path + "/ack", token=emergency, json={"who": "x"})
    assert status == 400 and "'who'" in body["error"]

    status, body = await rh.call("POST", path + "/clear", json={"note": "gauge under repair"})
    assert status == 200 and body["state"] == "cleared" and body["cleared_by"] == "tests"
    status, body = await rh.call("POST", path + "/clear")
    assert status == 400 and "already cleared" in body["error"]
    status, _ = await rh.call("POST", "/api/v1/alarms/999999/ack")
    assert status == 404
    status, _ = await rh.call("GET", "/api/v1/alarms/nope")
    assert status == 404

    # Still high: the hand-cleared alarm is not raised again until the water falls back.
    dev.telemetry(water_level_m=4.6)
    dev.telemetry(water_level_m=3.0)
    dev.telemetry(water_level_m=4.4)
    await rh.wait_for(lambda: _page(rh, state="active", device=dev_id))
    detail = await rh.get(path)
    assert [h["kind"] for h in detail["history"]] == ["raised", "acknowledged", "cleared"]
    assert detail["history"][1]["alarm"]["ack_by"] == "duty-officer-li"
    assert (await rh.get("/api/v1/alarms", device=dev_id))["total"] == 2
    assert (await rh.get("/api/v1/alarms", acknowledged="true"))["total"] == 1
    status, body = await rh.call("GET", "/api/v1/alarms", params={"severity": "bad"})
    assert status == 400 and "severity" in body["error"]
    paged = await rh.get("/api/v1/alarms", limit=1, offset=1, device=dev_id)
    assert paged["total"] == 2 and paged["items"][0]["id"] == alarm["id"]


async def test_offline_over_the_wire(alarm_hub: Any, device_factory: Any, kit: Any) -> None:
    """A birth, a last will and a new birth, published to the real broker."""
    rh = await alarm_hub()
    dev_id = kit.uid("cab")
    await kit.register(rh, dev_id, model="cabinet-test")
    await kit.put_rule(
        rh, "down", {"kind": "offline", "severity": "major", "scope": {"model": "cabinet-test"}}
    )
    dev = device_factory(dev_id)
    dev.status(True)
    dev.status(False)

    async def kinds() -> list[tuple[str, str]]:
        return list(await kit.kinds(rh, dev_id))

    await rh.wait_for(lambda: _equals(kinds(), [("raised", "major")]))
    dev.status(True, boot_id="second-boot")
    await rh.wait_for(lambda: _equals(kinds(), [("raised", "major"), ("cleared", "major")]))


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def _page(rh: Any, **params: Any) -> Any:
    page = await rh.get("/api/v1/alarms", **params)
    return page if page["total"] else None


def test_the_documented_rules_are_valid() -> None:
    import re

    doc = Path(__file__).resolve().parents[3] / "docs" / "alarms.md"
    blocks = re.findall(r"```json\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    rules = [json.loads(b) for b in blocks]
    parsed = [parse_rule(r).kind for r in rules if "kind" in r]
    assert sorted(set(parsed)) == sorted(KINDS)
