"""The audit log table (append-only)."""

from __future__ import annotations

import sqlalchemy as sa

from hub.db import metadata

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.Float, nullable=False, index=True),
    sa.Column("actor", sa.String(64), nullable=False, default=""),  # the token's name
    sa.Column("role", sa.String(16), nullable=False, default=""),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("path", sa.String(300), nullable=False),
    sa.Column("action", sa.String(64), nullable=False, default=""),  # e.g. "command:reboot"
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("remote", sa.String(64), nullable=False, default=""),
    sa.Column("targets", sa.JSON, nullable=False, default=dict),  # device ids / selector / count
    sa.Column("error", sa.Text, nullable=False, default=""),
)
