"""The alarm tables, shared by the rules engine (which writes them) and the emergency feed
(which streams ``alarm_events`` by its increasing id, the feed cursor)."""

from __future__ import annotations

import sqlalchemy as sa

from hub.db import metadata

rules = sa.Table(
    "rules",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("definition", sa.JSON, nullable=False),  # the rule as data (kind, scope, params)
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("updated", sa.Float, nullable=False),
)

alarms = sa.Table(
    "alarms",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("device_id", sa.String(64), nullable=False),
    sa.Column("rule_id", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),  # critical, major, minor, warning, info
    sa.Column("state", sa.String(16), nullable=False),  # active, cleared
    sa.Column("acknowledged", sa.Boolean, nullable=False, default=False),
    sa.Column("ack_by", sa.String(64), nullable=False, default=""),
    sa.Column("ack_at", sa.Float, nullable=True),
    sa.Column("ack_note", sa.Text, nullable=False, default=""),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Column("raised_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("cleared_at", sa.Float, nullable=True),
    sa.Column("cleared_by", sa.String(64), nullable=False, default=""),
    sa.Column("assigned_team", sa.String(64), nullable=False, default=""),
    sa.Column("dispatch_state", sa.String(16), nullable=False, default=""),
    # Non-null only while active: the unique index makes one active alarm per (device, rule)
    # a database fact, whatever the number of hub workers.
    sa.Column("active_key", sa.String(160), nullable=True),
    sa.Index("ix_alarms_active_key", "active_key", unique=True),
    sa.Index("ix_alarms_device", "device_id"),
)

alarm_events = sa.Table(
    "alarm_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),  # the feed cursor
    sa.Column("alarm_id", sa.Integer, nullable=False, index=True),
    sa.Column("device_id", sa.String(64), nullable=False),
    sa.Column("rule_id", sa.String(64), nullable=False),
    # raised, updated, escalated, acknowledged, cleared, assigned, dispatch
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),  # the alarm as the API shows it, after the event
)

rule_state = sa.Table(
    "rule_state",
    metadata,
    # What one rule remembers about one device between messages (hysteresis, sustained-since,
    # rate samples, silence, the alarm as last written), shared by every hub worker: each
    # evaluation locks its rows, reads them, decides and writes them back in one transaction.
    sa.Column("device_id", sa.String(64), primary_key=True),
    sa.Column("rule_id", sa.String(64), primary_key=True),
    sa.Column("rev", sa.String(16), nullable=False, default=""),  # the rule it was built under
    sa.Column("boot_id", sa.String(64), nullable=False, default=""),  # the newest message judged
    sa.Column("seq", sa.BigInteger, nullable=False, default=-1),
    sa.Column("armed", sa.Boolean, nullable=False, default=False),  # the periodic check needs it
    sa.Column("state", sa.Text, nullable=False, default=""),  # EvalState as JSON
    sa.Index("ix_rule_state_armed", "rule_id", "armed"),
)
