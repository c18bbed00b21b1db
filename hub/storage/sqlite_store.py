"""The embedded telemetry store: SQLite in WAL mode, with retention and downsampling.

Raw points live in ``telemetry`` keyed by (device, metric, ts), which makes a repeated write a
no-op. ``maintain()`` folds raw points older than the raw retention into one-minute rollups and
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

from govedge.logs import fields
from hub.errors import ValidationError
from hub.storage.base import AGGREGATES, Aggregate, Point, Reading

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

log = logging.getLogger("govedge.hub.telemetry")

CHECKPOINT_INTERVAL_S = 1.0
_ENCODER = msgspec.json.Encoder()
_INSERT_READINGS = (
    "INSERT OR IGNORE INTO telemetry (device_id, metric, ts, value) "
    "SELECT json_extract(m.value, '$[0]'), d.key, json_extract(m.value, '$[1]'), d.value "
    "FROM json_each(?) AS m, json_each(m.value, '$[2]') AS d"
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


class SQLiteTelemetryStore:
    """Telemetry in one SQLite file; one writer connection, a fresh reader per query."""

    def __init__(
        self,
        path: str,
        raw_retention_s: float = 7 * 86400,
        rollup_retention_s: float = 365 * 86400,
    ) -> None:
        self.path = path
        self.raw_retention_s = raw_retention_s
        self.rollup_retention_s = rollup_retention_s
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        self._write_lock = threading.Lock()
        self._writer = self._connect()
        # The raw table's B-tree is keyed by (device, metric, ts): every batch inserts at one
        # point per stream. SQLite's default 2 MB page cache cannot hold those leaf pages for a
        # few hundred streams, and each batch rereads them; 64 MB holds them for tens of
        # thousands of streams.
        self._writer.execute("PRAGMA cache_size=-65536")
        # Checkpoints (copying the WAL into the database, with its fsyncs) would otherwise run
        # inside whichever ingest commit crosses 1000 pages, stalling that batch by tens of
        # milliseconds; a background thread does them instead (see ``_checkpoint_loop``).
        self._writer.execute("PRAGMA wal_autocheckpoint=0")
        self._writer.executescript(_SCHEMA)
        self._closed = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="telemetry-checkpoint", daemon=True
        )
        self._checkpointer.start()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _checkpoint_loop(self) -> None:
        """PASSIVE checkpoints every second: they never wait for, nor block, the writer."""
        conn = self._connect()
        try:
            while not self._closed.wait(CHECKPOINT_INTERVAL_S):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:
                    log.warning("telemetry_checkpoint_failed", extra=fields(error=str(exc)))
        finally:
            conn.close()

    def write(self, points: Sequence[Point]) -> None:
        if not points:
            return
        rows = [(p.device_id, p.metric, p.ts, p.value) for p in points]
        with self._write_lock, self._writer:
            self._writer.executemany(
                "INSERT OR IGNORE INTO telemetry (device_id, metric, ts, value) VALUES (?,?,?,?)",
                rows,
            )

    def write_readings(self, readings: Sequence[Reading]) -> None:
        # One statement for the whole batch, over one JSON document: sqlite3 releases the GIL
        # for the statement, whereas executemany takes it back for every row, and with the
        # MQTT network thread busy each of those takes waits for a thread switch.
        if not readings:
            return
        # Text, not bytes: SQLite 3.45 and later read a BLOB argument as binary JSONB.
        doc = _ENCODER.encode(readings).decode()
        with self._write_lock, self._writer:
            self._writer.execute(_INSERT_READINGS, (doc,))

    def query(
        self, device_id: str, metric: str | None, start: float, end: float, limit: int
    ) -> list[dict[str, Any]]:
        sql = "SELECT ts, metric, value FROM telemetry WHERE device_id=? AND ts>=? AND ts<?"
        args: list[Any] = [device_id, start, end]
        if metric:
            sql += " AND metric=?"
            args.append(metric)
        sql += " ORDER BY ts, metric LIMIT ?"
        args.append(limit)
        conn = self._connect()
        try:
            return [{"ts": r[0], "metric": r[1], "value": r[2]} for r in conn.execute(sql, args)]
        finally:
            conn.close()

    def aggregate(
        self, device_id: str, metric: str, start: float, end: float, every_s: int, fn: Aggregate
    ) -> list[dict[str, Any]]:
        if fn not in AGGREGATES:
            raise ValidationError(f"unknown aggregate {fn!r}; one of {', '.join(AGGREGATES)}")
        if every_s < 1:
            raise ValidationError("every must be at least 1 second")
        conn = self._connect()
        try:
            out: dict[int, float] = {}
            if fn == "last":
                raw = conn.execute(
                    "SELECT CAST(ts / ? AS INTEGER) AS w, value, MAX(ts) FROM telemetry "
                    "WHERE device_id=? AND metric=? AND ts>=? AND ts<? GROUP BY w",
                    (every_s, device_id, metric, start, end),
                )
                rolled = conn.execute(
                    "SELECT CAST(bucket * 60 / ? AS INTEGER) AS w, last, MAX(last_ts) "
                    "FROM telemetry_1m WHERE device_id=? AND metric=? AND bucket*60>=? "
                    "AND bucket*60<? GROUP BY w",
                    (every_s, device_id, metric, start, end),
                )
            else:
                raw = conn.execute(
                    f"SELECT CAST(ts / ? AS INTEGER) AS w, {_SQL_AGG[fn]} FROM telemetry "
                    "WHERE device_id=? AND metric=? AND ts>=? AND ts<? GROUP BY w",
                    (every_s, device_id, metric, start, end),
                )
                rolled = conn.execute(
                    f"SELECT CAST(bucket * 60 / ? AS INTEGER) AS w, {_ROLLUP_AGG[fn]} "
                    "FROM telemetry_1m WHERE device_id=? AND metric=? AND bucket*60>=? "
                    "AND bucket*60<? GROUP BY w",
                    (every_s, device_id, metric, start, end),
                )
            for window, value, *_ in rolled:
                out[window] = value
            for window, value, *_ in raw:
                out[window] = value  # raw data, where present, is the finer truth
            return [{"ts": float(w * every_s), "value": out[w]} for w in sorted(out)]
        finally:
            conn.close()

    def latest(self, device_id: str) -> dict[str, dict[str, float]]:
        conn = self._connect()
        try:
            rows = conn.execute(
                "SELECT metric, MAX(ts), value FROM telemetry WHERE device_id=? GROUP BY metric",
                (device_id,),
            )
            return {m: {"ts": ts, "value": v} for m, ts, v in rows}
        finally:
            conn.close()

    def maintain(self, now: float | None = None) -> dict[str, int]:
        """Roll old raw points into one-minute buckets and apply both retentions."""
        now = time.time() if now is None else now
        raw_horizon = now - self.raw_retention_s
        rollup_horizon = now - self.rollup_retention_s
        with self._write_lock, self._writer:
            self._writer.execute(
                "INSERT INTO telemetry_1m (device_id, metric, bucket, n, total, lo, hi, last, "
                "last_ts) SELECT device_id, metric, CAST(ts / 60 AS INTEGER) AS b, COUNT(*), "
                "SUM(value), MIN(value), MAX(value), value, MAX(ts) FROM telemetry WHERE ts < ? "
                "GROUP BY device_id, metric, b "
                "ON CONFLICT (device_id, metric, bucket) DO UPDATE SET n = n + excluded.n, "
                "total = total + excluded.total, lo = MIN(lo, excluded.lo), "
                "hi = MAX(hi, excluded.hi), last = CASE WHEN excluded.last_ts >= last_ts "
                "THEN excluded.last ELSE last END, last_ts = MAX(last_ts, excluded.last_ts)",
                (raw_horizon,),
            )
            raw_deleted = self._writer.execute(
                "DELETE FROM telemetry WHERE ts < ?", (raw_horizon,)
            ).rowcount
            rollups_deleted = self._writer.execute(
                "DELETE FROM telemetry_1m WHERE bucket * 60 < ?", (rollup_horizon,)
            ).rowcount
        return {"raw_deleted": raw_deleted, "rollups_deleted": rollups_deleted}

    def close(self) -> None:
        self._closed.set()
        self._checkpointer.join(5)
        with self._write_lock:
            self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._writer.close()
