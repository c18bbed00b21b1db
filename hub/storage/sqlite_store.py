"""The embedded telemetry store: SQLite in WAL mode, with retention and downsampling.

Raw points live in ``telemetry`` keyed by (device, metric, ts), which makes a repeated write a
no-op and a device's range query one B-tree walk. Ingestion does not write that table directly:
at one reading a second from each of thousands of streams, every commit would rewrite one leaf
page per stream (a 10 000-device fleet cost 70 us a message and fell behind). Instead each
batch is appended to a small staging table, in one of two staging files, and a merger thread
moves a staging file's rows into ``telemetry`` in key order every ``merge_interval_s``, then
empties it while ingestion appends to the other file. Queries read ``telemetry`` and both
staging files together, so what is written is readable at once.

``maintain()`` folds raw points older than the raw retention into one-minute rollups and
deletes rollups older than their own retention.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from typing import Any

import msgspec
from typing_extensions import override

from govedge.logs import fields
from hub.errors import ValidationError
from hub.storage.base import AGGREGATES, Aggregate, Point, Reading, TelemetryStore

log = logging.getLogger("govedge.hub.telemetry")

MERGE_INTERVAL_S = 10.0
CHECKPOINT_INTERVAL_S = 1.0
STAGES = ("stage0", "stage1")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS telemetry (
    device_id TEXT NOT NULL, metric TEXT NOT NULL, ts REAL NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (device_id, metric, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS telemetry_1m (
    device_id TEXT NOT NULL, metric TEXT NOT NULL, bucket INTEGER NOT NULL,
    n INTEGER NOT NULL, total REAL NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL,
    last REAL NOT NULL, last_ts REAL NOT NULL,
    PRIMARY KEY (device_id, metric, bucket)
) WITHOUT ROWID;
"""
# Appended in arrival order (rowid): a commit writes only the last pages of the table.
_STAGE_SCHEMA = """
CREATE TABLE IF NOT EXISTS staged (
    device_id TEXT NOT NULL, metric TEXT NOT NULL, ts REAL NOT NULL, value REAL NOT NULL
);
"""

_ENCODER = msgspec.json.Encoder()
_INSERT_READINGS = (
    "INSERT INTO staged (device_id, metric, ts, value) "
    "SELECT json_extract(m.value, '$[0]'), d.key, json_extract(m.value, '$[1]'), d.value "
    "FROM json_each(?) AS m, json_each(m.value, '$[2]') AS d"
)
_INSERT_POINTS = "INSERT INTO staged (device_id, metric, ts, value) VALUES (?,?,?,?)"

_SOURCES = ("main.telemetry", "stage0.staged", "stage1.staged")


def _raw(where: str, first: bool = False) -> str:
    """Every raw row, staged or merged; a point written twice (a redelivery not yet merged) once.

    With ``first``, each source gives only its first rows by (ts, metric) (the caller binds a
    LIMIT for each), so that a range query on a long history reads no more than it returns.
    """
    # The SQL is the callers' fixed conditions and placeholders over the fixed sources.
    tail = " ORDER BY ts, metric LIMIT ?" if first else ""
    parts = [
        f"SELECT * FROM (SELECT device_id, metric, ts, value "  # noqa: S608 - see the comment above
        f"FROM {src} WHERE {where}{tail})"
        for src in _SOURCES
    ]
    return (
        "SELECT device_id, metric, ts, MIN(value) AS value FROM ("  # noqa: S608 - as above
        + " UNION ALL ".join(parts)
        + ") GROUP BY device_id, metric, ts"
    )


_SQL_AGG = {
    "mean": "AVG(value)",
    "min": "MIN(value)",
    "max": "MAX(value)",
    "count": "COUNT(value)",
    "sum": "SUM(value)",
}
_ROLLUP_AGG = {
    "mean": "SUM(total) / SUM(n)",
    "min": "MIN(lo)",
    "max": "MAX(hi)",
    "count": "SUM(n)",
    "sum": "SUM(total)",
}


class SQLiteTelemetryStore(TelemetryStore):
    """Telemetry in one SQLite file plus two staging files beside it (``PATH.stage0``/``1``)."""

    def __init__(
        self,
        path: str,
        raw_retention_s: float = 7 * 86400,
        rollup_retention_s: float = 365 * 86400,
        merge_interval_s: float = MERGE_INTERVAL_S,
    ) -> None:
        self.path = path
        self.raw_retention_s = raw_retention_s
        self.rollup_retention_s = rollup_retention_s
        self.merge_interval_s = merge_interval_s
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        self.stage_paths = tuple(f"{path}.{name}" for name in STAGES)
        self.merged_rows = 0
        # _write_lock: ingestion's appends and the switch of the active stage.
        # _merge_lock: the merger and maintain(), the two writers of the main file.
        self._write_lock = threading.Lock()
        self._merge_lock = threading.RLock()
        self._closed = threading.Event()
        self._stages = []
        for stage_path in self.stage_paths:
            conn = self._open(stage_path)  # created (WAL, schema) before the main one attaches
            # Checkpoints run in the background thread, never inside an ingest commit.
            conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.executescript(_STAGE_SCHEMA)
            self._stages.append(conn)
        self._active = 0
        self._main = self._connect(stages=True)
        # Merges insert at one point per stream: keep those leaf pages cached between merges.
        self._main.execute("PRAGMA cache_size=-65536")
        self._main.execute("PRAGMA wal_autocheckpoint=0")
        self._main.executescript(_SCHEMA)
        # Rows a crash left in either stage go into the main table first.
        self._merge(0)
        self._merge(1)
        self._merger = threading.Thread(
            target=self._merge_loop, name="telemetry-merge", daemon=True
        )
        self._merger.start()

    # connections ------------------------------------------------------------------------------

    @staticmethod
    def _open(path: str) -> sqlite3.Connection:
        conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _connect(self, stages: bool = True) -> sqlite3.Connection:
        conn = self._open(self.path)
        if stages:
            for name, stage_path in zip(STAGES, self.stage_paths, strict=True):
                conn.execute(f"ATTACH DATABASE ? AS {name}", (stage_path,))
        return conn

    # writing ----------------------------------------------------------------------------------

    @override
    def write(self, points: Sequence[Point]) -> None:
        if not points:
            return
        rows = [(p.device_id, p.metric, p.ts, p.value) for p in points]
        with self._write_lock:
            conn = self._stages[self._active]
            conn.execute("BEGIN")
            try:
                conn.executemany(_INSERT_POINTS, rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @override
    def write_readings(self, readings: Sequence[Reading]) -> None:
        # One statement for the whole batch, over one JSON document: sqlite3 releases the GIL
        # for the statement, whereas executemany takes it back for every row, and with the
        # MQTT network thread busy each of those takes waits for a thread switch.
        if not readings:
            return
        # Text, not bytes: SQLite 3.45 and later read a BLOB argument as binary JSONB.
        doc = _ENCODER.encode(readings).decode()
        with self._write_lock:
            # Autocommit: the one statement is its own transaction.
            self._stages[self._active].execute(_INSERT_READINGS, (doc,))

    # merging ----------------------------------------------------------------------------------

    def _merge_loop(self) -> None:
        last_checkpoint = time.monotonic()
        next_merge = time.monotonic() + self.merge_interval_s
        while not self._closed.wait(CHECKPOINT_INTERVAL_S):
            try:
                if time.monotonic() >= next_merge:
                    next_merge = time.monotonic() + self.merge_interval_s
                    self.flush()
                if time.monotonic() - last_checkpoint >= CHECKPOINT_INTERVAL_S:
                    last_checkpoint = time.monotonic()
                    self._checkpoint()
            except sqlite3.Error as exc:
                log.warning("telemetry_merge_failed", extra=fields(error=str(exc)))

    def flush(self) -> int:
        """Move the active stage's rows into the main table now; returns how many moved."""
        # The merge lock spans the switch and the merge: a second flush must not switch
        # ingestion back into this stage before it has been emptied.
        with self._merge_lock:
            with self._write_lock:
                staged = self._active
                self._active = 1 - staged  # ingestion goes on in the other stage file
            return self._merge(staged)

    def _merge(self, stage: int) -> int:
        """Move one stage's rows into the main table (the caller makes sure nobody writes it)."""
        name = STAGES[stage]
        with self._merge_lock:
            conn = self._main
            conn.execute("BEGIN")
            try:
                moved = conn.execute(
                    # S608: the one name in it is one of STAGES.
                    "INSERT OR IGNORE INTO main.telemetry (device_id, metric, ts, value) "  # noqa: S608
                    f"SELECT device_id, metric, ts, value FROM {name}.staged "
                    f"ORDER BY device_id, metric, ts"
                ).rowcount
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            # Only this stage's file is written: ingestion appends to the other one.
            conn.execute(f"DELETE FROM {name}.staged")  # noqa: S608 - a name from STAGES
        self.merged_rows += max(moved, 0)
        return moved

    def _checkpoint(self) -> None:
        """PASSIVE checkpoints: they never wait for, nor block, a writer."""
        with self._merge_lock:  # the main connection is shared with maintain()
            for name in ("main", *STAGES):
                self._main.execute(f"PRAGMA {name}.wal_checkpoint(PASSIVE)").fetchall()

    # reading ----------------------------------------------------------------------------------

    @override
    def query(
        self, device_id: str, metric: str | None, start: float, end: float, limit: int
    ) -> list[dict[str, Any]]:
        where = "device_id=? AND ts>=? AND ts<?" + (" AND metric=?" if metric else "")
        args: list[Any] = [device_id, start, end] + ([metric] if metric else [])
        sql = (
            f"SELECT ts, metric, value FROM ({_raw(where, first=True)}) "  # noqa: S608 - see _raw
            "ORDER BY ts, metric LIMIT ?"
        )
        conn = self._connect()
        try:
            rows = conn.execute(sql, [*args, limit] * len(_SOURCES) + [limit])
            return [{"ts": r[0], "metric": r[1], "value": r[2]} for r in rows]
        finally:
            conn.close()

    @override
    def aggregate(
        self, device_id: str, metric: str, start: float, end: float, every_s: int, fn: Aggregate
    ) -> list[dict[str, Any]]:
        if fn not in AGGREGATES:
            raise ValidationError(f"unknown aggregate {fn!r}; one of {', '.join(AGGREGATES)}")
        if every_s < 1:
            raise ValidationError("every must be at least 1 second")
        raw = _raw("device_id=? AND metric=? AND ts>=? AND ts<?")
        raw_args = [device_id, metric, start, end] * len(_SOURCES)
        conn = self._connect()
        try:
            out: dict[int, float] = {}
            if fn == "last":
                raw_rows = conn.execute(
                    "SELECT CAST(ts / ? AS INTEGER) AS w, value, MAX(ts) "  # noqa: S608 - see _raw
                    f"FROM ({raw}) GROUP BY w",
                    (every_s, *raw_args),
                )
                rolled = conn.execute(
                    "SELECT CAST(bucket * 60 / ? AS INTEGER) AS w, last, MAX(last_ts) "
                    "FROM telemetry_1m WHERE device_id=? AND metric=? AND bucket*60>=? "
                    "AND bucket*60<? GROUP BY w",
                    (every_s, device_id, metric, start, end),
                )
            else:
                raw_rows = conn.execute(
                    f"SELECT CAST(ts / ? AS INTEGER) AS w, {_SQL_AGG[fn]} "  # noqa: S608 - from code
                    f"FROM ({raw}) GROUP BY w",
                    (every_s, *raw_args),
                )
                rolled = conn.execute(
                    # S608: the aggregate comes from _ROLLUP_AGG, the values are placeholders.
                    f"SELECT CAST(bucket * 60 / ? AS INTEGER) AS w, {_ROLLUP_AGG[fn]} "  # noqa: S608
                    "FROM telemetry_1m WHERE device_id=? AND metric=? AND bucket*60>=? "
                    "AND bucket*60<? GROUP BY w",
                    (every_s, device_id, metric, start, end),
                )
            for window, value, *_ in rolled:
                out[window] = value
            for window, value, *_ in raw_rows:
                out[window] = value  # raw data, where present, is the finer truth
            return [{"ts": float(w * every_s), "value": out[w]} for w in sorted(out)]
        finally:
            conn.close()

    @override
    def latest(self, device_id: str) -> dict[str, dict[str, float]]:
        conn = self._connect()
        try:
            # Repeats do not change a newest value: no de-duplication needed here.
            per_source = " UNION ALL ".join(
                f"SELECT metric, MAX(ts) AS ts, value FROM {src} "  # noqa: S608 - from _SOURCES
                "WHERE device_id=? GROUP BY metric"
                for src in _SOURCES
            )
            rows = conn.execute(
                f"SELECT metric, MAX(ts), value FROM ({per_source}) "  # noqa: S608 - as above
                "GROUP BY metric",
                (device_id,) * len(_SOURCES),
            )
            return {m: {"ts": ts, "value": v} for m, ts, v in rows}
        finally:
            conn.close()

    # housekeeping -----------------------------------------------------------------------------

    def maintain(self, now: float | None = None) -> dict[str, int]:
        """Roll old raw points into one-minute buckets and apply both retentions."""
        now = time.time() if now is None else now
        raw_horizon = now - self.raw_retention_s
        rollup_horizon = now - self.rollup_retention_s
        self.flush()
        self.flush()  # both stages: points written just before are rolled up too
        with self._merge_lock:
            conn = self._main
            conn.execute("BEGIN")
            try:
                conn.execute(
                    "INSERT INTO telemetry_1m (device_id, metric, bucket, n, total, lo, hi, last, "
                    "last_ts) SELECT device_id, metric, CAST(ts / 60 AS INTEGER) AS b, COUNT(*), "
                    "SUM(value), MIN(value), MAX(value), value, MAX(ts) FROM telemetry "
                    "WHERE ts < ? GROUP BY device_id, metric, b "
                    "ON CONFLICT (device_id, metric, bucket) DO UPDATE SET n = n + excluded.n, "
                    "total = total + excluded.total, lo = MIN(lo, excluded.lo), "
                    "hi = MAX(hi, excluded.hi), last = CASE WHEN excluded.last_ts >= last_ts "
                    "THEN excluded.last ELSE last END, last_ts = MAX(last_ts, excluded.last_ts)",
                    (raw_horizon,),
                )
                raw_deleted = conn.execute(
                    "DELETE FROM telemetry WHERE ts < ?", (raw_horizon,)
                ).rowcount
                rollups_deleted = conn.execute(
                    "DELETE FROM telemetry_1m WHERE bucket * 60 < ?", (rollup_horizon,)
                ).rowcount
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return {"raw_deleted": raw_deleted, "rollups_deleted": rollups_deleted}

    @override
    def close(self) -> None:
        self._closed.set()
        self._merger.join(30)
        self.flush()
        self.flush()
        with self._merge_lock, self._write_lock:
            for name in ("main", *STAGES):
                self._main.execute(f"PRAGMA {name}.wal_checkpoint(TRUNCATE)")
            self._main.close()
            for conn in self._stages:
                conn.close()
