"""Writes keyed by a message's identity (device id, boot id, seq), so that a copy is stored once
and a worker's listeners act on it once.

QoS 1 delivers a message at least once, and with several hub workers in one MQTT 5 shared
subscription the copies may reach two workers, whose in-memory deduplication (hub/ingest/dedup.py)
cannot see each other until their next save. What they store in the shared database must then be
idempotent by identity: events carry their message's (boot id, seq) under a unique index, and are
inserted with ON CONFLICT DO NOTHING, in SQLite and PostgreSQL alike. (Telemetry is keyed by
(device, metric, ts) in both telemetry stores, which a copy repeats exactly: see hub/storage.)

The rules see every copy a worker accepts: their state is shared and time-ordered
(hub/rules), so a copy judged twice raises nothing twice. The listeners (command acks, config
reports, OTA events) are not idempotent that way, so with several workers a stored batch's
events, acks and reports are claimed in ``message_claims`` (``Claims.claim``: one INSERT ..
ON CONFLICT DO NOTHING RETURNING) just before its listeners run, and each worker hands them only
what it claimed. Claiming after the batch is stored, not when it is decided, leaves a worker
killed in between nothing claimed: the broker's redelivery is acted on wherever it lands. A
single worker claims nothing. Claims older than CLAIM_RETENTION_S are deleted as new ones are
made, at most every CLAIM_PRUNE_INTERVAL_S (a copy comes within seconds; a day is ample).
Telemetry is not claimed: no listener acts on a reading but to count it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from hub.db import add_missing_columns, message_claims, sqlite_json_batch

_COLUMNS = ("device_id", "ts", "kind", "severity", "message", "attrs", "boot_id", "seq")
# SQLite: the whole batch in one statement over one JSON array (see ``sqlite_json_batch``);
# an executemany of the ON CONFLICT insert took half as long again as the plain one it replaced.
_SQLITE_INSERT = (
    f"INSERT INTO events ({', '.join(_COLUMNS)}) SELECT "  # noqa: S608 - names from code
    + ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(_COLUMNS)))
    + " FROM json_each(?) WHERE true ON CONFLICT (device_id, boot_id, seq) DO NOTHING"
)

# PostgreSQL: likewise one statement (an executemany of the ON CONFLICT insert was slower).
_PG_INSERT = sa.text(
    f"INSERT INTO events ({', '.join(_COLUMNS)}) "  # noqa: S608 - names from code
    "SELECT device_id, ts, kind, severity, COALESCE(message, ''), attrs::json, boot_id, seq "
    "FROM jsonb_to_recordset(CAST(:doc AS jsonb)) AS x(device_id text, ts float8, kind text, "
    "severity text, message text, attrs jsonb, boot_id text, seq bigint) "
    "ON CONFLICT (device_id, boot_id, seq) DO NOTHING"
)
_JSON = msgspec.json.Encoder()


Key = tuple[str, str, int]
"""A message's identity: (device id, boot id, seq)."""

CLAIM_RETENTION_S = 86_400.0
"""Claims older than this are deleted: a message's copies come within seconds of each other."""
CLAIM_PRUNE_INTERVAL_S = 600.0
"""How often (at most) a worker deletes the old claims, as it makes new ones."""

_SQLITE_CLAIM = (
    "INSERT INTO message_claims (device_id, boot_id, seq, claimed) SELECT "
    "json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), ? "
    "FROM json_each(?) WHERE true ON CONFLICT (device_id, boot_id, seq) DO NOTHING "
    "RETURNING device_id, boot_id, seq"
)
_PG_CLAIM = sa.text(
    "INSERT INTO message_claims (device_id, boot_id, seq, claimed) "
    "SELECT device_id, boot_id, seq, :claimed "
    "FROM jsonb_to_recordset(CAST(:doc AS jsonb)) AS x(device_id text, boot_id text, seq bigint) "
    "ON CONFLICT (device_id, boot_id, seq) DO NOTHING RETURNING device_id, boot_id, seq"
)


def insert_events(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert event rows (with ``boot_id`` and ``seq``); a row already stored is skipped."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        sqlite_json_batch(
            conn,
            _SQLITE_INSERT,
            [[row.get(c, "" if c == "message" else None) for c in _COLUMNS] for row in rows],
        )
        return
    conn.execute(_PG_INSERT, {"doc": _JSON.encode([dict(row) for row in rows]).decode()})


class Claims:
    """Shared claims on the messages a worker's listeners act on (events, command acks, config
    reports), taken when their batch is stored: the first worker to claim one acts on it."""

    def __init__(self) -> None:
        self._pruned = 0.0

    def claim(self, conn: Connection, keys: Iterable[Key], now: float | None = None) -> set[Key]:
        """Claim ``keys`` in one statement; return those this call claimed (any other was
        claimed before, by another worker or by this one). Every CLAIM_PRUNE_INTERVAL_S, the
        claims older than CLAIM_RETENTION_S are deleted in the same transaction."""
        wanted = [[d, b, s] for d, b, s in keys]
        if not wanted:
            return set()
        now = time.time() if now is None else now
        if now - self._pruned >= CLAIM_PRUNE_INTERVAL_S:
            self._pruned = now
            conn.execute(
                message_claims.delete().where(message_claims.c.claimed < now - CLAIM_RETENTION_S)
            )
        if conn.dialect.name == "sqlite":
            result = conn.exec_driver_sql(_SQLITE_CLAIM, (now, _JSON.encode(wanted).decode()))
        else:
            keyed = [{"device_id": d, "boot_id": b, "seq": s} for d, b, s in wanted]
            result = conn.execute(_PG_CLAIM, {"claimed": now, "doc": _JSON.encode(keyed).decode()})
        return {(d, b, int(s)) for d, b, s in result.fetchall()}


def upgrade_events(engine: Engine) -> None:
    """Give an events table made before message identity its two columns and unique index.

    Rows already there keep NULL identities, which a unique index never takes as equal.
    """
    with engine.begin() as conn:
        add_missing_columns(conn, "events", {"boot_id": "VARCHAR(64)", "seq": "BIGINT"})
        conn.execute(
            sa.text(
                "CREATE UNIQUE INDEX IF NOT EXISTS events_identity "
                "ON events (device_id, boot_id, seq)"
            )
        )
