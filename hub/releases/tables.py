"""The release tables, on the hub's metadata."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.db import metadata

releases = sa.Table(
    "releases",
    metadata,
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("manifest", sa.JSON, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("files", sa.Integer, nullable=False),
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)

release_rollouts = sa.Table(
    "release_rollouts",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("selector", sa.JSON, nullable=False),
    sa.Column("steps", sa.JSON, nullable=False),
    sa.Column("max_failures", sa.Integer, nullable=False),
    sa.Column("health_gate_s", sa.Float, nullable=False),
    sa.Column("url", sa.String(512), nullable=False),
    sa.Column("targets", sa.JSON, nullable=False),
    sa.Column("step_index", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False, default=""),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
)

device_releases = sa.Table(
    "device_releases",
    metadata,
    sa.Column("rollout_id", sa.String(32), primary_key=True),
    sa.Column("device_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # sent, updated, healthy, failed
    sa.Column("error", sa.String(500), nullable=False, default=""),
    sa.Column("updated", sa.Float, nullable=False),
)

TABLES = [releases, release_rollouts, device_releases]


def create_tables(engine: Engine) -> None:
    """Create the release tables that do not exist yet."""
    metadata.create_all(engine, tables=TABLES)
