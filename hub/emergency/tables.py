"""Tables of the emergency center: webhook subscriptions and deliveries, resources.

They live on the hub's one ``metadata``; ``install`` creates them if missing.
"""

from __future__ import annotations

import sqlalchemy as sa

from hub.db import metadata

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("url", sa.String(1000), nullable=False),
    sa.Column("secret", sa.String(200), nullable=False),
    sa.Column("severities", sa.JSON, nullable=False),  # [] = every severity
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    # The last alarm_events id turned into deliveries; moved with a compare-and-set so that
    # several hub workers enqueue each event once.
    sa.Column("cursor", sa.BigInteger, nullable=False, default=0),
    sa.Column("created", sa.Float, nullable=False),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("webhook_id", sa.Integer, nullable=False, index=True),
    sa.Column("event_id", sa.BigInteger, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # pending, delivered, dead
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_at", sa.Float, nullable=False),
    sa.Column("lease_until", sa.Float, nullable=False, default=0.0),
    sa.Column("last_status", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=False, default=""),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
    sa.UniqueConstraint("webhook_id", "event_id", name="uq_webhook_delivery_event"),
    sa.Index("ix_webhook_deliveries_due", "state", "next_at"),
)

resources = sa.Table(
    "emergency_resources",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False, index=True),  # team, supply, shelter
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("capacity", sa.Integer, nullable=False, default=0),  # people, beds or units
    sa.Column("available", sa.Integer, nullable=False, default=0),
    sa.Column("unit", sa.String(32), nullable=False, default=""),
    sa.Column("contact", sa.String(200), nullable=False, default=""),
    sa.Column("notes", sa.Text, nullable=False, default=""),
    sa.Column("updated", sa.Float, nullable=False),
)

ALL = (webhooks, webhook_deliveries, resources)


def create_tables(engine: sa.engine.Engine) -> None:
    """Create the emergency tables that do not exist yet."""
    metadata.create_all(engine, tables=list(ALL))
