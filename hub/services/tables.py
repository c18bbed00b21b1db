"""Tables of the citizen services, on the hub's one ``metadata``; ``install`` creates them.

No table holds a full ID number or a full name: proofs keep the masked subject and the hash of
the signed document; the ledger keeps hashes only.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import sqlalchemy as sa

from hub.db import metadata

errands = sa.Table(
    "service_errands",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("doc", sa.JSON, nullable=False),  # the errand with its texts per language
    sa.Column("position", sa.Integer, nullable=False, default=0),
    sa.Column("updated", sa.Float, nullable=False),
)

applications = sa.Table(
    "service_applications",
    metadata,
    sa.Column("number", sa.String(64), primary_key=True),
    sa.Column("errand_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
)

application_events = sa.Table(
    "service_application_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("number", sa.String(64), nullable=False, index=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("note", sa.String(500), nullable=False, default=""),
)

proofs = sa.Table(
    "service_proofs",
    metadata,
    sa.Column("proof_id", sa.String(128), primary_key=True),
    # "<device>:<request_id>": one proof per errand request, whatever the retries.
    sa.Column("request_key", sa.String(200), nullable=False, unique=True),
    sa.Column("proof_type", sa.String(64), nullable=False),
    sa.Column("kid", sa.String(32), nullable=False),
    sa.Column("doc_hash", sa.String(64), nullable=False),
    sa.Column("subject_id_masked", sa.String(32), nullable=False),
    sa.Column("subject_name_masked", sa.String(64), nullable=False),
    sa.Column("hall", sa.String(64), nullable=False),
    sa.Column("device", sa.String(64), nullable=False),
    sa.Column("lang", sa.String(8), nullable=False),
    sa.Column("issued_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
    sa.Column("revoked_at", sa.BigInteger, nullable=True),
    sa.Column("revoke_reason", sa.String(200), nullable=False, default=""),
)

ledger = sa.Table(
    "service_ledger",
    metadata,
    # On SQLite an INTEGER primary key is the rowid itself: the entries need no second B-tree
    # (a BIGINT key would get an index of its own, written at every append).
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("ts_ms", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # issued, revoked
    # No index: the ledger is walked in sequence order, never looked up by proof, and an index
    # of random ids would cost every append a page write of its own.
    sa.Column("proof_id", sa.String(128), nullable=False),
    sa.Column("doc_hash", sa.String(64), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False),
)

# One row (id 1): the head, locked by every append so that appends are serial across workers.
ledger_head = sa.Table(
    "service_ledger_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("head_hash", sa.String(64), nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
)

checkpoints = sa.Table(
    "service_ledger_checkpoints",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("head_hash", sa.String(64), nullable=False),
    sa.Column("ts_ms", sa.BigInteger, nullable=False),
    sa.Column("kid", sa.String(32), nullable=False),
    sa.Column("signature", sa.String(200), nullable=False),  # Ed25519, hex
)

ratings = sa.Table(
    "service_ratings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.Float, nullable=False, index=True),
    sa.Column("week", sa.String(10), nullable=False),  # ISO week, "2026-W49"
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("comment", sa.String(500), nullable=False, default=""),
    sa.Column("hall", sa.String(64), nullable=False),
    sa.Column("device", sa.String(64), nullable=False),
    sa.Column("errand_id", sa.String(64), nullable=False),
)

ALL = (errands, applications, application_events, proofs, ledger, ledger_head, checkpoints, ratings)


def insert_tuples(
    conn: sa.Connection, table: sa.Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> None:
    """INSERT ``rows``, tuples of the values of ``columns`` in that order, through the driver's
    executemany. On the proof issuing path, SQLAlchemy's per-row parameter handling cost more
    than the inserts themselves, so rows go to the driver as they are: plain str, int and bool
    values in tuples, with no dict per row."""
    if rows:
        conn.exec_driver_sql(_insert_sql(table.name, columns, conn.dialect.paramstyle), rows)


def driver_sql(conn: sa.Connection, sql: str) -> str:
    """``sql``, written with ``?`` marks, in the parameter style of ``conn``'s driver: for the
    statements of every proof, where building a SQLAlchemy statement cost more than running it.
    """
    return _in_style(sql, conn.dialect.paramstyle)


@cache
def _in_style(sql: str, paramstyle: str) -> str:
    if paramstyle == "qmark":
        return sql
    if paramstyle in ("format", "pyformat"):
        return sql.replace("?", "%s")
    raise ValueError(f"no driver-level SQL for the {paramstyle} parameter style")


@cache
def _insert_sql(table: str, columns: tuple[str, ...], paramstyle: str) -> str:
    marks = ", ".join(["?"] * len(columns))
    # S608: table and column names come from the table definitions, the values are placeholders.
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
    return _in_style(sql, paramstyle)


def create_tables(engine: sa.engine.Engine) -> None:
    """Create the services' tables that do not exist yet."""
    metadata.create_all(engine, tables=list(ALL))
