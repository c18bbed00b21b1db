"""The embedded telemetry store: idempotent writes, aggregates, retention with rollups."""

from __future__ import annotations

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
    # Ingest commits never checkpoint (that would stall a batch); a background thread does.
    path = tmp_path / "t.db"
    store = SQLiteTelemetryStore(str(path))
    try:
        store.write_readings([(f"d{i % 50}", T0 + i, {"a": 1.0, "b": 2.0}) for i in range(20_000)])
        assert path.stat().st_size < 100_000  # still in the WAL
        deadline = time.monotonic() + 10
        while path.stat().st_size < 500_000:
            assert time.monotonic() < deadline, "the WAL was never checkpointed"
            time.sleep(0.1)
    finally:
        store.close()
    wal = Path(f"{path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # closing leaves no WAL behind
