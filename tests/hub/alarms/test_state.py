"""Two engines on one database, as two hub workers each given part of a device's messages,
decide as one engine given them all: the evaluation state is in the shared ``rule_state``
rows, not in a worker's memory (SQLite and PostgreSQL)."""

from __future__ import annotations

import time

import sqlalchemy as sa

from govedge.contract import Telemetry
from hub.alarms.engine import AlarmEngine
from hub.alarms.state import EvalState
from hub.alarms.tables import rule_state
from hub.ingest.pipeline import Accepted
from tests.hub.alarms.conftest import LEVELS, Bench


def _second(bench: Bench) -> AlarmEngine:
    other = AlarmEngine(bench.store, bench.registry)
    other.reload()
    return other


def test_a_level_on_at_one_worker_is_sustained_at_the_other(bench: Bench) -> None:
    bench.rule(
        "hot", kind="threshold", metric="t", levels=[{"severity": "major", "raise": 50}], for_s=30
    )
    other = _second(bench)
    t0 = time.time()
    bench.send("s1", t=55, now=t0)  # worker 1 sees it come on
    bench.send("s1", engine=other, t=56, now=t0 + 31)  # worker 2: on for 31 s
    assert bench.kinds("s1") == [("raised", "major")]


def test_a_sustained_level_comes_due_at_a_worker_that_saw_no_reading(bench: Bench) -> None:
    bench.rule(
        "hot", kind="threshold", metric="t", levels=[{"severity": "major", "raise": 50}], for_s=30
    )
    other = _second(bench)
    t0 = time.time()
    bench.send("s1", t=55, now=t0)
    other.tick(t0 + 10)
    assert bench.kinds("s1") == []
    other.tick(t0 + 31)
    assert bench.kinds("s1") == [("raised", "major")]
    bench.alarms.tick(t0 + 32)  # the first worker's check finds it raised: nothing more
    assert bench.kinds("s1") == [("raised", "major")]


def test_hysteresis_holds_across_workers(bench: Bench) -> None:
    bench.rule("lvl", kind="threshold", metric="x", levels=LEVELS, update_interval_s=0)
    other = _second(bench)  # loaded before the alarm exists
    bench.send("s1", x=4.5)
    bench.send("s1", engine=other, x=3.95)  # above major's clear line: still major
    bench.send("s1", x=3.85)  # below it: down to minor
    bench.send("s1", engine=other, x=2.95)  # above minor's clear line: still minor
    bench.send("s1", x=2.8)
    assert bench.kinds("s1") == [
        ("raised", "major"),
        ("updated", "minor"),
        ("cleared", "minor"),
    ]


def test_a_rate_spans_the_readings_of_both_workers(bench: Bench) -> None:
    bench.rule(
        "rising",
        kind="rate",
        metric="level",
        window_s=600,
        per_s=60,
        levels=[{"severity": "major", "raise": 1.0}],
    )
    other = _second(bench)
    t0 = time.time()
    for i, engine in enumerate((bench.alarms, other, bench.alarms)):
        # 2 m a minute, each reading taken by another worker.
        msg = Telemetry(
            device_id="s1", boot_id="b", seq=i, ts=t0 + 60 * i, data={"level": 2 + 2 * i}
        )
        engine.on_batch(Accepted(telemetry=[msg]))
    assert bench.kinds("s1") == [("raised", "major")]


def test_a_flat_line_seen_half_by_each_worker_is_stuck(bench: Bench) -> None:
    bench.rule("flat", kind="stuck", metric="level", for_s=600, tolerance=0.001, severity="minor")
    other = _second(bench)
    t0 = time.time()
    for i in range(7):
        bench.send("s1", engine=(bench.alarms, other)[i % 2], level=2.35, now=t0 + 120 * i)
    assert bench.kinds("s1") == [("raised", "minor")]


def test_composite_conditions_met_at_two_workers(bench: Bench) -> None:
    bench.rule(
        "flood-and-rain",
        kind="composite",
        severity="critical",
        window_s=300,
        conditions=[{"metric": "level", "above": 4.0}, {"metric": "rain_mm_h", "above": 20}],
    )
    other = _second(bench)
    t0 = time.time()
    bench.send("s1", level=4.5, now=t0)
    bench.send("s1", engine=other, rain_mm_h=30, now=t0 + 10)
    assert bench.kinds("s1") == [("raised", "critical")]
    other.tick(t0 + 400)  # the window ends: whichever worker checks clears it
    assert bench.kinds("s1") == [("raised", "critical"), ("cleared", "critical")]


def test_silence_after_data_another_worker_took(bench: Bench) -> None:
    bench.rule(
        "silent",
        kind="absence",
        metric="level",
        silent_s=30,
        severity="warning",
        scope={"ids": ["s1"]},
    )
    other = _second(bench)
    t0 = time.time()
    bench.send("s1", level=1.0, now=t0)  # only worker 1 heard the metric
    other.tick(t0 + 20)
    assert bench.kinds("s1") == []
    other.tick(t0 + 31)
    assert bench.kinds("s1") == [("raised", "warning")]


def test_down_at_one_worker_past_the_grace_at_the_other(bench: Bench) -> None:
    bench.rule("down-long", kind="offline", severity="minor", for_s=120)
    other = _second(bench)
    t0 = time.time()
    bench.registry.apply_status("s1", "b", True, 60, t0)
    bench.registry.apply_status("s1", "b", False, 60, t0)
    bench.alarms.on_batch(Accepted(deaths=["s1"]), t0)  # worker 1 took the will
    other.tick(t0 + 121)  # worker 2's check counts the outage from then
    assert bench.kinds("s1") == [("raised", "minor")]


def test_a_copy_reaching_the_other_worker_is_judged_once(bench: Bench) -> None:
    bench.rule(
        "rising",
        kind="rate",
        metric="level",
        window_s=600,
        per_s=60,
        levels=[{"severity": "major", "raise": 1.0}],
        update_step=0.01,
    )
    other = _second(bench)
    t0 = time.time()
    first = Telemetry(device_id="s1", boot_id="b", seq=1, ts=t0, data={"level": 2.0})
    second = Telemetry(device_id="s1", boot_id="b", seq=2, ts=t0 + 60, data={"level": 4.0})
    bench.alarms.on_batch(Accepted(telemetry=[first]))
    bench.alarms.on_batch(Accepted(telemetry=[second]))
    # The copy of the first reading, at the other worker: a second sample at t0 would not
    # change the rate, but judged again it would count as the newest and move the window.
    other.on_batch(Accepted(telemetry=[first]))
    other.on_batch(Accepted(telemetry=[second]))
    assert bench.kinds("s1") == [("raised", "major")]
    with bench.engine.connect() as conn:
        row = conn.execute(sa.select(rule_state).where(rule_state.c.device_id == "s1")).one()
    assert (row.boot_id, row.seq) == ("b", 2)
    assert list(EvalState.decode(row.state, 1).samples) == [(t0, 2.0), (t0 + 60, 4.0)]


def test_a_changed_rule_starts_its_state_afresh(bench: Bench) -> None:
    bench.rule("flat", kind="stuck", metric="level", for_s=600, severity="minor")
    t0 = time.time()
    bench.send("s1", level=2.35, now=t0)
    bench.rule("flat", kind="stuck", metric="level", for_s=300, severity="minor")
    other = _second(bench)
    bench.send("s1", engine=other, level=2.35, now=t0 + 400)  # the flat line starts here
    assert bench.kinds("s1") == []
    bench.send("s1", level=2.35, now=t0 + 701)
    assert bench.kinds("s1") == [("raised", "minor")]
