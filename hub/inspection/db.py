"""The inspection tables, in the hub's one MetaData."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.db import metadata

tasks = sa.Table(
    "inspection_tasks",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("site", sa.String(200), nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("checklist", sa.JSON, nullable=False),
    sa.Column("due", sa.String(32), nullable=False),
    sa.Column("inspector_id", sa.String(64), nullable=False),
    sa.Column("device_id", sa.String(64), nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("review_note", sa.String(2000), nullable=False, default=""),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
)

records = sa.Table(
    "inspection_records",
    metadata,
    sa.Column("device_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("sig", sa.LargeBinary, nullable=False),
    sa.Column("task_id", sa.String(64), nullable=False, index=True),
    sa.Column("photo_sha256", sa.String(64), nullable=False),
    sa.Column("cert_serial", sa.String(64), nullable=False),
    sa.Column("received", sa.Float, nullable=False),
)

certs = sa.Table(
    "inspection_certs",
    metadata,
    sa.Column("serial", sa.String(64), primary_key=True),
    sa.Column("device_id", sa.String(64), nullable=False),
    sa.Column("pem", sa.Text, nullable=False),
)

refusals = sa.Table(
    "inspection_refusals",
    metadata,
    sa.Column("device_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, nullable=True),
    sa.Column("task_id", sa.String(64), nullable=False, default=""),
    sa.Column("reason", sa.String(2000), nullable=False),
    sa.Column("ts", sa.Float, nullable=False),
)
"""A terminal's outstanding refusal: the first record the hub would not take, and why (the
records after it wait on the terminal). Cleared once the hub holds a record past it."""

TABLES = (tasks, records, certs, refusals)


def create_tables(engine: Engine) -> None:
    """Create the inspection tables that do not exist yet."""
    metadata.create_all(engine, tables=list(TABLES))
