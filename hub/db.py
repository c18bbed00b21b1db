"""The hub's relational schema (SQLAlchemy Core) and engine set-up: SQLite or PostgreSQL by URL.

One MetaData holds every table so that ``create_all`` builds the whole schema; other hub modules
(alarms, rules) add their tables to the same ``metadata``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql as sa_postgresql
from sqlalchemy.dialects import sqlite as sa_sqlite
from sqlalchemy.engine import Connection, Engine

from govedge.logs import fields
from hub.errors import NotFoundError

log = logging.getLogger("govedge.hub.schema")

metadata = sa.MetaData()

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("model", sa.String(64), nullable=False, default=""),
    sa.Column("site", sa.String(64), nullable=False, default=""),
    sa.Column("lat", sa.Float, nullable=True),
    sa.Column("lon", sa.Float, nullable=True),
    sa.Column("firmware", sa.String(64), nullable=False, default=""),
    sa.Column("config_version", sa.Integer, nullable=False, default=0),
    sa.Column("labels", sa.JSON, nullable=False, default=dict),
    sa.Column("online", sa.Boolean, nullable=False, default=False),
    sa.Column("boot_id", sa.String(64), nullable=False, default=""),
    sa.Column("keepalive", sa.Integer, nullable=False, default=60),
    sa.Column("last_seen", sa.Float, nullable=True),
    sa.Column("health", sa.JSON, nullable=True),
    sa.Column("created", sa.Float, nullable=False),
    # The stamp of the last status applied (a connection's birth and will share it): a will
    # stamped before it belongs to an earlier connection (contract ``Status``).
    sa.Column("status_ts", sa.Float, nullable=True),
)

device_states = sa.Table(
    "device_states",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("device_id", sa.String(64), nullable=False, index=True),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("online", sa.Boolean, nullable=False),
    sa.Column("boot_id", sa.String(64), nullable=False, default=""),
    sa.Column("reason", sa.String(64), nullable=False, default=""),
)

streams = sa.Table(
    "streams",
    metadata,
    sa.Column("device_id", sa.String(64), primary_key=True),
    sa.Column("boot_id", sa.String(64), primary_key=True),
    sa.Column("max_seq", sa.BigInteger, nullable=False),
    sa.Column("received", sa.BigInteger, nullable=False, default=0),
    sa.Column("gaps", sa.BigInteger, nullable=False, default=0),
    sa.Column("updated", sa.Float, nullable=False),
    # Sequence numbers still missing, so that a late one is taken after a hub restart.
    sa.Column("missing", sa.JSON, nullable=False, default=list),
    # Merged from every worker's saves (hub/ingest/dedup.py): the lowest seq received (0 in
    # rows written before it was kept), and the copies received twice, by one worker or two.
    sa.Column("min_seq", sa.BigInteger, nullable=False, default=0, server_default="0"),
    sa.Column("duplicates", sa.BigInteger, nullable=False, default=0, server_default="0"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("device_id", sa.String(64), nullable=False, index=True),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Column("attrs", sa.JSON, nullable=False, default=dict),
    # The message's identity: a copy of it (QoS 1 redelivery, possibly to another hub worker)
    # is not stored again (hub/ingest/message_identity.py). NULL in rows written before these
    # columns.
    sa.Column("boot_id", sa.String(64), nullable=True),
    sa.Column("seq", sa.BigInteger, nullable=True),
    sa.Index("events_identity", "device_id", "boot_id", "seq", unique=True),
)

message_claims = sa.Table(
    "message_claims",
    metadata,
    # An event, command ack or config report whose batch one of several workers stored and
    # handed to its listeners: a copy of it reaching another worker is not handed to that one's
    # (hub/ingest/message_identity.py). ``claimed`` (hub time) is for the retention: rows older
    # than a day are deleted.
    sa.Column("device_id", sa.String(64), primary_key=True),
    sa.Column("boot_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("claimed", sa.Float, nullable=False, index=True),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
)

commands = sa.Table(
    "commands",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("device_id", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("args", sa.JSON, nullable=False, default=dict),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("sent_at", sa.Float, nullable=True),
    sa.Column("updated", sa.Float, nullable=False),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("error", sa.Text, nullable=False, default=""),
    sa.Column("batch", sa.String(64), nullable=False, default="", index=True),
)

device_configs = sa.Table(
    "device_configs",
    metadata,
    sa.Column("device_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # pending, applied, failed
    sa.Column("error", sa.Text, nullable=False, default=""),
    sa.Column("rollout_id", sa.String(64), nullable=False, default=""),
    sa.Column("updated", sa.Float, nullable=False),
)

rollouts = sa.Table(
    "rollouts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("selector", sa.JSON, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("steps", sa.JSON, nullable=False),
    sa.Column("max_failures", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # running, halted, done
    sa.Column("targets", sa.JSON, nullable=False),
    sa.Column("step_index", sa.Integer, nullable=False, default=0),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
)


_JSON = msgspec.json.Encoder()


def sqlite_json_batch(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run ``sql`` once over all ``rows``, passed as one JSON array bound to its ``json_each(?)``.

    sqlite3's executemany takes the GIL back for every row; when the MQTT network thread is
    busy, each of those takes waits for a thread switch. One statement releases it once.
    """
    if rows:
        conn.exec_driver_sql(sql, (_JSON.encode(rows).decode(),))


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``).

    SQLite runs in WAL mode with a busy timeout so that the ingest writer and API readers
    do not block each other.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return sa.create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, **kwargs)


def create_schema(engine: Engine) -> None:
    """Create every table the hub needs and bring older ones up to date."""
    import hub.alarms.tables  # noqa: F401  (registers the alarm tables on ``metadata``)
    from hub.ingest.message_identity import upgrade_events

    metadata.create_all(engine)
    upgrade_events(engine)
    upgrade_streams(engine)
    upgrade_devices(engine)


def add_missing_columns(conn: Connection, table: str, columns: dict[str, str]) -> list[str]:
    """Add to an older table the columns (name -> SQL type and default) it lacks; return their
    names, logged as ``table_upgraded``. Names and types come from code, never from input."""
    present = {c["name"] for c in sa.inspect(conn).get_columns(table)}
    added = [name for name in columns if name not in present]
    for name in added:
        conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {name} {columns[name]}"))
    if added:
        log.info("table_upgraded", extra=fields(table=table, columns=",".join(added)))
    return added


def upgrade_streams(engine: Engine) -> None:
    """Give a streams table made before the records were merged across workers its two columns
    (``min_seq``, ``duplicates``: 0 in the rows already there)."""
    with engine.begin() as conn:
        wanted = "BIGINT NOT NULL DEFAULT 0"
        add_missing_columns(conn, "streams", {"min_seq": wanted, "duplicates": wanted})


def upgrade_devices(engine: Engine) -> None:
    """Give a devices table made before wills were told apart by connection its ``status_ts``
    (NULL in the rows already there: their next birth sets it)."""
    with engine.begin() as conn:
        add_missing_columns(conn, "devices", {"status_ts": "FLOAT"})


def insert_new(
    conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]], key: sa.Column[Any]
) -> list[Any]:
    """Insert the rows whose primary key is not there yet (another thread or worker may have
    inserted some); return ``key`` of those this call inserted."""
    if not rows:
        return []
    insert = sa_postgresql.insert if conn.dialect.name == "postgresql" else sa_sqlite.insert
    stmt = insert(table).on_conflict_do_nothing().returning(key)
    return list(conn.execute(stmt, list(rows)).scalars())


def found(conn: Connection, column: sa.Column[Any], key: object, what: str) -> sa.Row[Any]:
    """The row of ``column``'s table whose ``column`` is ``key``, or a NotFoundError saying
    "no <what> <key>"."""
    row = conn.execute(sa.select(column.table).where(column == key)).first()
    if row is None:
        raise NotFoundError(f"no {what} {key!r}")
    return row
