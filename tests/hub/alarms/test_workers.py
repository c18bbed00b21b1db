"""Two hub workers on one database share the ingest (MQTT 5 shared subscription)."""

from __future__ import annotations

from typing import Any

from hub.alarms.api import ALARM_ENGINE


async def test_two_workers_raise_one_alarm(alarm_hub: Any, device_factory: Any, kit: Any) -> None:
    group = kit.uid("workers")
    first = await alarm_hub(shared_group=group)
    second = await alarm_hub(shared_group=group)
    dev_id = kit.uid("gauge")
    await kit.register(first, dev_id, site="weir")
    second.hub.registry.reload_known()  # each worker caches the ids it knows
    await kit.put_rule(
        first,
        "lvl",
        {
            "kind": "threshold",
            "metric": "water_level_m",
            "scope": {"ids": [dev_id]},
            "levels": [{"severity": "major", "raise": 4.0, "clear": 3.9}],
            "update_interval_s": 0,
        },
    )
    # The second worker learns of the rule from the database at its next periodic check.
    await second.wait_for(lambda: "lvl" in second.hub.extensions[ALARM_ENGINE].rules)
    dev = device_factory(dev_id)
    for _ in range(20):
        dev.telemetry(water_level_m=4.5)

    def both_worked() -> bool:
        counts = [rh.hub.pipeline.accepted_total for rh in (first, second)]
        return sum(counts) >= 20 and min(counts) > 0

    await first.wait_for(both_worked)
    await first.wait_for(lambda: _kinds_are(first, kit, dev_id, [("raised", "major")]))
    page = await first.get("/api/v1/alarms", device=dev_id)
    assert page["total"] == 1 and page["items"][0]["state"] == "active"
    # Whichever worker takes the falling reading clears the one alarm.
    for _ in range(4):
        dev.telemetry(water_level_m=1.0)
    await first.wait_for(
        lambda: _kinds_are(first, kit, dev_id, [("raised", "major"), ("cleared", "major")])
    )


async def _kinds_are(rh: Any, kit: Any, device_id: str, expected: list[tuple[str, str]]) -> bool:
    return bool(await kit.kinds(rh, device_id) == expected)
