"""Each rule kind, evaluated by the engine on a real database (SQLite and PostgreSQL).

Telemetry goes in as the pipeline hands it over (``Accepted`` batches); the periodic check is
called with explicit times, so sustained, silence and window rules need no sleeping.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from govedge.contract import Telemetry
from hub.alarms.engine import AlarmEngine
from hub.alarms.rules import parse_rule
from hub.alarms.store import AlarmStore
from hub.db import create_schema, make_engine
from hub.errors import ValidationError
from hub.ingest.pipeline import Accepted
from hub.registry import Registry
from tests.hub.alarms.conftest import LEVELS, Bench


def test_threshold_scope_by_model_site_label_and_ids(bench: Bench) -> None:
    bench.rule("by-site", kind="threshold", metric="x", levels=LEVELS, scope={"site": "north"})
    bench.rule(
        "by-label", kind="threshold", metric="x", levels=LEVELS, scope={"labels": {"zone": "a"}}
    )
    bench.rule("by-ids", kind="threshold", metric="x", levels=LEVELS, scope={"ids": ["k1"]})
    for dev in ("s1", "s2", "k1"):
        bench.send(dev, x=3.5)
    active = bench.store.active()
    assert sorted(active) == [
        ("k1", "by-ids"),
        ("k1", "by-site"),
        ("s1", "by-site"),
        ("s2", "by-label"),
    ]


def test_low_threshold_with_hysteresis(bench: Bench) -> None:
    bench.rule(
        "low-battery",
        kind="threshold",
        metric="battery_v",
        direction="below",
        levels=[
            {"severity": "warning", "raise": 3.5, "clear": 3.6},
            {"severity": "critical", "raise": 3.2, "clear": 3.3},
        ],
    )
    for v in (3.7, 3.4, 3.55, 3.1, 3.25, 3.35, 3.65):
        bench.send("s1", battery_v=v)
    assert bench.kinds("s1") == [
        ("raised", "warning"),  # 3.4
        ("escalated", "critical"),  # 3.1; 3.25 stays critical (clears above 3.3)
        ("updated", "warning"),  # 3.35
        ("cleared", "warning"),  # 3.65
    ]


def test_sustained_for_a_duration(bench: Bench) -> None:
    bench.rule(
        "hot", kind="threshold", metric="t", levels=[{"severity": "major", "raise": 50}], for_s=30
    )
    bench.send("s1", t=55)
    assert bench.kinds("s1") == []
    bench.alarms.tick(time.time() + 10)
    assert bench.kinds("s1") == []
    bench.alarms.tick(time.time() + 31)
    assert bench.kinds("s1") == [("raised", "major")]
    bench.send("s1", t=40)
    assert bench.kinds("s1")[-1] == ("cleared", "major")
    # A short spike never raises.
    bench.send("s1", t=60)
    bench.send("s1", t=45)
    bench.alarms.tick(time.time() + 60)
    assert len(bench.kinds("s1")) == 2


def test_rate_of_change(bench: Bench) -> None:
    bench.rule(
        "rising",
        kind="rate",
        metric="level",
        window_s=600,
        per_s=1,
        levels=[{"severity": "major", "raise": 0.5, "clear": 0.1}],
    )
    st_ts = time.time()
    # Feed explicit timestamps: 0 m, 0.2 m after 1 s (0.2/s), 2.0 m after 2 s (1.0/s overall).
    for i, (dt, v) in enumerate(((0, 0.0), (1, 0.2), (2, 2.0))):
        msg = Telemetry(device_id="s1", boot_id="b", seq=i + 1, ts=st_ts + dt, data={"level": v})
        bench.alarms.on_batch(Accepted(telemetry=[msg]))
        if i == 1:
            assert bench.kinds("s1") == []
    assert bench.kinds("s1") == [("raised", "major")]
    alarm = bench.store.search(device="s1")[0][0]
    assert alarm["value"] == pytest.approx(1.0)
    # Flat: the rate over the window falls to 2.0/15 = 0.13, above the clear line of 0.1,
    msg = Telemetry(device_id="s1", boot_id="b", seq=9, ts=st_ts + 15, data={"level": 2.0})
    bench.alarms.on_batch(Accepted(telemetry=[msg]))
    assert bench.kinds("s1")[-1][0] != "cleared"
    # then to 2.0/100 = 0.02: cleared.
    msg = Telemetry(device_id="s1", boot_id="b", seq=10, ts=st_ts + 100, data={"level": 2.0})
    bench.alarms.on_batch(Accepted(telemetry=[msg]))
    assert bench.kinds("s1")[-1] == ("cleared", "major")


def test_absence_of_data(bench: Bench) -> None:
    bench.rule(
        "silent",
        kind="absence",
        metric="level",
        silent_s=30,
        severity="warning",
        scope={"model": "gauge"},
    )
    bench.registry.register("s3", model="gauge")  # never heard from: not installed yet
    now = time.time()
    bench.registry.touch({"s1": now, "s2": now})  # as the pipeline does for any message
    bench.send("s1", level=1.0, now=now)
    bench.send("s2", other=1.0, now=now)  # data, but not the metric this rule listens for
    bench.alarms.tick(now + 10)
    assert bench.store.active() == {}
    bench.send("s1", level=1.0, now=now + 20)
    bench.alarms.tick(now + 31)
    assert sorted(bench.store.active()) == [("s2", "silent")]  # s1 spoke 'level' recently
    bench.alarms.tick(now + 52)
    assert sorted(bench.store.active()) == [("s1", "silent"), ("s2", "silent")]
    bench.send("s2", level=2.0, now=now + 53)
    assert sorted(bench.store.active()) == [("s1", "silent")]
    assert bench.kinds("s2") == [("raised", "warning"), ("cleared", "warning")]
    assert ("k1", "silent") not in bench.store.active()  # out of scope
    assert bench.kinds("s3") == []


def test_stuck_value_is_a_flat_line(bench: Bench) -> None:
    bench.rule(
        "flat",
        kind="stuck",
        metric="level",
        for_s=600,
        tolerance=0.001,
        severity="minor",
        scope={"model": "gauge"},
    )
    now = time.time()
    for i in range(10):  # a river that moves: never flat for ten minutes
        bench.send("s2", level=2.0 + i * 0.01, now=now + i * 120)
    bench.send("s1", level=2.35, now=now)
    bench.send("s1", level=2.3504, now=now + 300)  # within the tolerance: still the same line
    bench.send("s1", level=2.35, now=now + 599)
    assert bench.store.active() == {}
    bench.send("s1", level=2.35, now=now + 601)
    assert bench.kinds("s1") == [("raised", "minor")]
    alarm = bench.store.active()[("s1", "flat")]
    assert alarm[1] == "minor"
    bench.send("s1", level=2.35, now=now + 900)  # still stuck: one alarm, no update storm
    assert bench.kinds("s1") == [("raised", "minor")]
    bench.send("s1", level=2.6, now=now + 960)  # it moves again
    assert bench.kinds("s1") == [("raised", "minor"), ("cleared", "minor")]
    bench.send("s1", level=2.6, now=now + 1000)  # a new stretch starts from the move
    assert bench.kinds("s1")[-1] == ("cleared", "minor")
    assert bench.kinds("s2") == []
    with pytest.raises(ValidationError, match="for_s"):
        parse_rule({"id": "x", "kind": "stuck", "metric": "level"})


def test_device_offline(bench: Bench) -> None:
    bench.rule("down", kind="offline", severity="major", scope={"model": "gauge"})
    bench.registry.apply_status("s1", "boot1", True, 60, time.time())
    bench.alarms.on_batch(Accepted(births=["s1"]))
    bench.registry.apply_status("s1", "boot1", False, 60, time.time())
    bench.alarms.on_batch(Accepted(deaths=["s1"]))
    assert bench.kinds("s1") == [("raised", "major")]
    bench.registry.apply_status("s1", "boot2", True, 60, time.time())
    bench.alarms.on_batch(Accepted(births=["s1"]))
    assert bench.kinds("s1") == [("raised", "major"), ("cleared", "major")]
    # A heartbeat timeout announces nothing: the periodic check finds the device offline.
    bench.registry.expire_silent(time.time() + 1000)
    bench.alarms.forget_devices()
    bench.alarms.tick()
    assert bench.kinds("s1")[-1] == ("raised", "major")
    # s2 was never seen: not yet installed, no alarm.
    assert bench.kinds("s2") == []


def test_offline_for_a_duration(bench: Bench) -> None:
    bench.rule("down-long", kind="offline", severity="minor", for_s=120)
    bench.registry.apply_status("s1", "b", True, 60, time.time())
    bench.registry.apply_status("s1", "b", False, 60, time.time())
    bench.alarms.on_batch(Accepted(deaths=["s1"]))
    assert bench.kinds("s1") == []
    bench.alarms.tick(time.time() + 121)
    assert bench.kinds("s1") == [("raised", "minor")]


def test_composite_within_a_window(bench: Bench) -> None:
    bench.rule(
        "flood-and-rain",
        kind="composite",
        severity="critical",
        window_s=300,
        conditions=[{"metric": "level", "above": 4.0}, {"metric": "rain_mm_h", "above": 20}],
    )
    bench.send("s1", level=4.5)
    assert bench.kinds("s1") == []
    bench.send("s1", rain_mm_h=5)
    assert bench.kinds("s1") == []
    bench.send("s1", rain_mm_h=30)
    assert bench.kinds("s1") == [("raised", "critical")]
    bench.alarms.tick(time.time() + 301)
    assert bench.kinds("s1") == [("raised", "critical"), ("cleared", "critical")]


def test_updates_are_throttled(bench: Bench) -> None:
    bench.rule(
        "lvl",
        kind="threshold",
        metric="x",
        levels=[{"severity": "minor", "raise": 1.0}],
        update_step=0.5,
        update_interval_s=0,
    )
    for i in range(200):  # noise around 2.0: no event storm
        bench.send("s1", x=2.0 + (i % 7) * 0.01)
    bench.send("s1", x=2.6)
    assert bench.kinds("s1") == [("raised", "minor"), ("updated", "minor")]


def test_concurrent_duplicate_readings_raise_one_alarm(bench: Bench) -> None:
    """Two engines (as two hub workers) and eight threads race to raise the same alarm."""
    bench.rule("race", kind="threshold", metric="x", levels=LEVELS)
    engines = [bench.alarms, AlarmEngine(bench.store, bench.registry)]
    engines[1].reload()
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait(10)
            for _ in range(5):
                msg = Telemetry(device_id="s1", boot_id="b", seq=i, ts=time.time(), data={"x": 3.5})
                engines[i % 2].on_batch(Accepted(telemetry=[msg]))
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert engines[0].errors == engines[1].errors == 0
    assert bench.kinds("s1") == [("raised", "minor")]
    items, total = bench.store.search(device="s1")
    assert total == 1 and items[0]["state"] == "active"
    # Either worker may escalate and clear the one alarm.
    bench.send("s1", engine=engines[1], x=4.5)
    bench.send("s1", engine=engines[0], x=1.0)
    assert bench.kinds("s1") == [("raised", "minor"), ("escalated", "major"), ("cleared", "major")]


def test_manual_clear_holds_until_the_condition_ends(bench: Bench) -> None:
    bench.rule("lvl", kind="threshold", metric="x", levels=LEVELS, update_step=0.1)
    bench.send("s1", x=3.5)
    alarm_id = bench.store.active()[("s1", "lvl")][0]
    bench.store.clear_by_hand(alarm_id, "duty-officer", "sensor being serviced")
    bench.send("s1", x=3.7)  # still above the line: not raised again
    assert bench.store.active() == {}
    bench.send("s1", x=4.5)  # worse than when it was cleared: a new alarm
    assert ("s1", "lvl") in bench.store.active()
    bench.send("s1", x=1.0)
    bench.send("s1", x=3.5)  # the condition ended and came back: a new alarm
    assert bench.kinds("s1") == [
        ("raised", "minor"),
        ("cleared", "minor"),
        ("raised", "major"),
        ("cleared", "major"),
        ("raised", "minor"),
    ]


def test_restart_keeps_the_truth_in_the_database(bench: Bench) -> None:
    bench.rule("lvl", kind="threshold", metric="x", levels=LEVELS)
    bench.send("s1", x=4.2)
    fresh = AlarmEngine(bench.store, bench.registry)  # a hub restart
    fresh.reload()
    bench.send("s1", engine=fresh, x=4.3)
    bench.send("s1", engine=fresh, x=3.95)  # hysteresis restored from the stored severity
    bench.send("s1", engine=fresh, x=1.0)
    assert bench.kinds("s1") == [("raised", "major"), ("cleared", "major")]


def test_deleting_a_rule_clears_its_alarms(bench: Bench) -> None:
    bench.rule("lvl", kind="threshold", metric="x", levels=LEVELS)
    bench.send("s1", x=3.5)
    bench.store.delete_rule("lvl")
    bench.alarms.reload()
    items, _ = bench.store.search(device="s1")
    assert items[0]["state"] == "cleared" and items[0]["cleared_by"] == "rule removed or disabled"


def test_a_reading_sent_before_one_already_judged_does_not_move_the_alarm_back(
    bench: Bench,
) -> None:
    # The alarm lane may judge seq 3 before the bulk lane hands over seq 2 (sent before the lane
    # subscribed), or a gap may fill late: the older reading must not lower the alarm.
    bench.rule("level", kind="threshold", metric="x", levels=LEVELS, scope={"ids": ["s1"]})

    def reading(boot: str, seq: int, value: float) -> Telemetry:
        return Telemetry(device_id="s1", boot_id=boot, seq=seq, ts=time.time(), data={"x": value})

    bench.alarms.on_batch(Accepted(telemetry=[reading("b1", 1, 3.5)]))
    bench.alarms.on_batch(Accepted(telemetry=[reading("b1", 3, 4.5)]))
    bench.alarms.on_batch(Accepted(telemetry=[reading("b1", 2, 3.5)]))  # late
    assert bench.kinds("s1") == [("raised", "minor"), ("escalated", "major")]
    # A new boot starts its own sequence.
    bench.alarms.on_batch(Accepted(telemetry=[reading("b2", 1, 1.0)]))
    assert bench.kinds("s1")[-1] == ("cleared", "major")


def test_a_device_down_past_the_grace_and_back_before_a_tick_still_alarms(bench: Bench) -> None:
    # Ticks come once a second, later on a busy hub: whether the alarm is raised must not
    # depend on one falling inside the outage.
    bench.rule("down-long", kind="offline", severity="minor", for_s=120)
    t0 = time.time()
    bench.registry.apply_status("s1", "b", True, 60, t0)
    bench.registry.apply_status("s1", "b", False, 60, t0)
    bench.alarms.on_batch(Accepted(deaths=["s1"]), t0)
    bench.registry.apply_status("s1", "b", True, 60, t0 + 130)
    bench.alarms.on_batch(Accepted(births=["s1"]), t0 + 130)
    assert bench.kinds("s1") == [("raised", "minor"), ("cleared", "minor")]
    # Back within the grace: nothing.
    bench.registry.apply_status("s1", "b", False, 60, t0 + 200)
    bench.alarms.on_batch(Accepted(deaths=["s1"]), t0 + 200)
    bench.registry.apply_status("s1", "b", True, 60, t0 + 210)
    bench.alarms.on_batch(Accepted(births=["s1"]), t0 + 210)
    assert len(bench.kinds("s1")) == 2


class _DeathDuringScopeRead(Registry):
    """A registry on which a device dies while the tick reads a rule's scope (another thread's
    batch, played here from inside the read)."""

    alarms: AlarmEngine | None = None
    die_at = 0.0

    def select(self, selector: Any) -> list[Any]:
        found = super().select(selector)  # read before the death: the device is online in it
        if self.alarms is not None and self.die_at:
            at, self.die_at = self.die_at, 0.0
            self.apply_status("s1", "b", False, 60, at)
            self.alarms.on_batch(Accepted(deaths=["s1"]), at)
        return found


def test_a_scope_read_before_a_death_does_not_hide_the_death_from_the_tick(
    registry_url: str,
) -> None:
    engine = make_engine(registry_url)
    create_schema(engine)
    registry = _DeathDuringScopeRead(engine)
    store = AlarmStore(engine)
    alarms = AlarmEngine(store, registry)
    registry.alarms = alarms
    registry.register("s1", model="gauge")
    rule = {"kind": "offline", "severity": "minor", "for_s": 5, "scope": {"model": "gauge"}}
    store.put_rule("down-long", rule, True)
    alarms.reload()
    t0 = time.time()
    registry.apply_status("s1", "b", True, 60, t0)
    alarms.on_batch(Accepted(births=["s1"]), t0)
    registry.die_at = t0
    alarms.tick(t0)  # its scope read sees s1 online; s1 dies meanwhile
    alarms.tick(t0 + 6)
    assert [(e["kind"], e["severity"]) for e in store.events_of("s1")] == [("raised", "minor")]
    engine.dispose()
