"""The embedded telemetry store: idempotent writes, aggregates, retention with rollups."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from hub.errors import ValidationError
from hub.storage.base import Point
from hub.storage.sqlite_store import SQLiteTelemetryStore

T0 = 1_699_999_980.0  # a multiple of 60


@pytest.fixture
def store(tmp_path) -> SQLiteTelemetryStore:
    s = SQLiteTelemetryStore(str(tmp_path / "t.db"), raw_retention_s=3600, rollup_retention_s=86400)
    yield s
    s.close()


def test_write_is_idempotent_and_queries_by_range(store: SQLiteTelemetryStore) -> None:
    pts = [Point("d", "t", T0 + i, float(i)) for i in range(10)]
    store.write(pts)
    store.write(pts[:5])
    assert [p["value"] for p in store.query("d", "t", T0, T0 + 100, 100)] == [
        float(i) for i in range(10)
    ]
    assert len(store.query("d", None, T0 + 2, T0 + 4, 100)) == 2
    assert store.latest("d") == {"t": {"ts": T0 + 9, "value": 9.0}}


def test_aggregates(store: SQLiteTelemetryStore) -> None:
    store.write([Point("d", "t", T0 + i, float(i)) for i in range(120)])
    assert [a["value"] for a in store.aggregate("d", "t", T0, T0 + 120, 60, "mean")] == [29.5, 89.5]
    assert [a["value"] for a in store.aggregate("d", "t", T0, T0 + 120, 60, "last")] == [
        59.0,
        119.0,
    ]
    assert [a["value"] for a in store.aggregate("d", "t", T0, T0 + 120, 60, "count")] == [60, 60]
    with pytest.raises(ValidationError):
        store.aggregate("d", "t", T0, T0 + 1, 60, "median")  # type: ignore[arg-type]


def test_old_points_are_rolled_up_then_expire(store: SQLiteTelemetryStore) -> None:
    store.write([Point("d", "t", T0 + i, float(i)) for i in range(120)])
    out = store.maintain(now=T0 + 3600 + 200)  # every raw point is past the raw retention
    assert out["raw_deleted"] == 120
    assert store.query("d", "t", T0, T0 + 200, 1000) == []
    # Aggregates still answer from the one-minute rollups.
    assert [a["value"] for a in store.aggregate("d", "t", T0, T0 + 120, 60, "mean")] == [29.5, 89.5]
    assert [a["value"] for a in store.aggregate("d", "t", T0, T0 + 120, 3600, "max")] == [119.0]
    assert [a["value"] for a in store.aggregate("d", "t", T0, T0 + 120, 60, "last")] == [
        59.0,
        119.0,
    ]
    out = store.maintain(now=T0 + 86400 + 200)
    assert out["rollups_deleted"] == 2
    assert store.aggregate("d", "t", T0, T0 + 120, 60, "mean") == []


def test_whole_readings_store_the_same_rows_as_points(store: SQLiteTelemetryStore) -> None:
    readings = [("d", T0 + i, {"t": float(i), "air.pm25": 10.0 + i}) for i in range(5)]
    store.write_readings(readings)
    store.write_readings(readings[:2])  # a redelivered batch changes nothing
    store.write([Point("d", "t", T0 + 5, 5.0)])
    rows = store.query("d", None, T0, T0 + 100, 100)
    assert len(rows) == 11
    assert [r["value"] for r in rows if r["metric"] == "t"] == [float(i) for i in range(6)]
    assert store.latest("d")["air.pm25"] == {"ts": T0 + 4, "value": 14.0}
    store.write_readings([])
    assert len(store.query("d", None, T0, T0 + 100, 100)) == 11


def test_the_wal_is_checkpointed_in_the_background(tmp_path) -> None:
    # Ingest commits never checkpoint (that would stall a batch): the merger thread moves staged
    # rows into the main file and checkpoints every file's WAL.
    path = tmp_path / "t.db"
    store = SQLiteTelemetryStore(str(path), merge_interval_s=1.0)
    try:
        store.write_readings([(f"d{i % 50}", T0 + i, {"a": 1.0, "b": 2.0}) for i in range(20_000)])
        assert path.stat().st_size < 100_000  # staged, not yet in the main file
        deadline = time.monotonic() + 15
        while path.stat().st_size < 500_000:
            assert time.monotonic() < deadline, "the staged rows never reached the main file"
            time.sleep(0.1)
        assert store.merged_rows == 40_000
    finally:
        store.close()
    for name in (path, *(Path(p) for p in store.stage_paths)):
        wal = Path(f"{name}-wal")
        assert not wal.exists() or wal.stat().st_size == 0  # closing leaves no WAL behind


def test_staged_rows_are_read_with_the_merged_ones_and_counted_once(tmp_path) -> None:
    store = SQLiteTelemetryStore(str(tmp_path / "t.db"), merge_interval_s=3600)
    try:
        store.write_readings([("d", T0 + i, {"t": float(i)}) for i in range(60)])
        assert store.flush() == 60  # in the main table now
        store.write_readings([("d", T0 + i, {"t": float(i)}) for i in range(50, 120)])  # overlap
        rows = store.query("d", "t", T0, T0 + 200, 1000)
        assert [r["value"] for r in rows] == [float(i) for i in range(120)]
        first = store.query("d", None, T0 + 40, T0 + 200, 15)  # across table and stage
        assert [r["value"] for r in first] == [float(i) for i in range(40, 55)]
        counts = store.aggregate("d", "t", T0, T0 + 120, 60, "count")
        assert [c["value"] for c in counts] == [60, 60]
        assert store.latest("d") == {"t": {"ts": T0 + 119, "value": 119.0}}
        assert store.flush() == 60  # the ten repeated points were already there
        assert store.aggregate("d", "t", T0, T0 + 120, 60, "count") == counts
    finally:
        store.close()


def test_rows_left_staged_by_a_crash_are_merged_on_the_next_start(tmp_path) -> None:
    path = str(tmp_path / "t.db")
    first = SQLiteTelemetryStore(path, merge_interval_s=3600)
    first.write_readings([("d", T0 + i, {"t": float(i)}) for i in range(10)])
    first._closed.set()  # the process dies: no flush, no close
    first._merger.join(5)
    second = SQLiteTelemetryStore(path, merge_interval_s=3600)
    try:
        assert second.merged_rows == 10
        assert len(second.query("d", "t", T0, T0 + 100, 100)) == 10
    finally:
        second.close()


def test_writes_during_merges_lose_nothing(tmp_path) -> None:
    store = SQLiteTelemetryStore(str(tmp_path / "t.db"), merge_interval_s=3600)
    stop = threading.Event()
    written = 0

    def ingest() -> None:
        nonlocal written
        while not stop.is_set():
            store.write_readings([(f"d{written % 7}", T0 + written, {"x": 1.0})])
            written += 1

    writer = threading.Thread(target=ingest)
    writer.start()
    try:
        for _ in range(30):
            store.flush()
            time.sleep(0.005)
    finally:
        stop.set()
        writer.join()
    store.flush()
    store.flush()
    try:
        total = sum(len(store.query(f"d{i}", "x", 0, 2e9, 10**6)) for i in range(7))
        assert total == written > 100
        assert store.merged_rows == written
    finally:
        store.close()
