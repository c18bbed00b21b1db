"""Writes keyed by a message's identity (device id, boot id, seq), so that a copy is stored once.

QoS 1 delivers a message at least once, and with several hub workers in one MQTT 5 shared
subscription the copies may reach two workers, whose in-memory deduplication (hub/ingest/dedup.py)
cannot see each other. What they store in the shared database must then be idempotent by
identity: events carry their message's (boot id, seq) under a unique index, and are inserted
with ON CONFLICT DO NOTHING, in SQLite and PostgreSQL alike. (Telemetry is keyed by
(device, metric, ts) in both telemetry stores, which a copy repeats exactly: see hub/storage.)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from govedge.logs import fields
from hub.db import sqlite_json_batch

log = logging.getLogger("govedge.hub.schema")


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


def upgrade_events(engine: Engine) -> None:
    """Give an events table made before message identity its two columns and unique index.

    Rows already there keep NULL identities, which a unique index never takes as equal.
    """
    columns = {c["name"] for c in sa.inspect(engine).get_columns("events")}
    added = [name for name in ("boot_id", "seq") if name not in columns]
    kinds = {"boot_id": "VARCHAR(64)", "seq": "BIGINT"}
    with engine.begin() as conn:
        for name in added:
            conn.execute(sa.text(f"ALTER TABLE events ADD COLUMN {name} {kinds[name]}"))
        conn.execute(
            sa.text(
                "CREATE UNIQUE INDEX IF NOT EXISTS events_identity "
                "ON events (device_id, boot_id, seq)"
            )
        )
    if added:
        log.info("events_table_upgraded", extra=fields(columns=",".join(added)))
