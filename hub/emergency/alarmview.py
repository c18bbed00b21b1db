"""Alarm rows as the API shows them, and reading the alarm event log by cursor."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from hub.alarms.store import alarm_view
from hub.alarms.tables import alarm_events, alarms
from hub.db import devices


def placed_alarms() -> sa.Select[Any]:
    """Alarms with their device's site, model and location (what ``alarm_dict`` shows)."""
    return sa.select(
        alarms, devices.c.site, devices.c.model, devices.c.lat, devices.c.lon
    ).select_from(alarms.outerjoin(devices, devices.c.id == alarms.c.device_id))


def alarm_dict(row: Any) -> dict[str, Any]:
    """An alarm as the API shows it (the rules engine's view), from a ``placed_alarms`` row."""
    return alarm_view(row)


def event_dict(row: Any) -> dict[str, Any]:
    """One feed message: the event's cursor, kind and the alarm after it."""
    return {
        "cursor": int(row.id),
        "kind": row.kind,
        "alarm_id": int(row.alarm_id),
        "device_id": row.device_id,
        "rule_id": row.rule_id,
        "severity": row.severity,
        "ts": row.ts,
        "alarm": row.payload,
    }


def events_after(engine: Engine, cursor: int, limit: int = 500) -> list[dict[str, Any]]:
    """Alarm events after ``cursor``, oldest first: what a feed client has not seen yet."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(alarm_events)
            .where(alarm_events.c.id > cursor)
            .order_by(alarm_events.c.id)
            .limit(limit)
        )
        return [event_dict(r) for r in rows]


def last_cursor(engine: Engine) -> int:
    """The newest alarm event's id, 0 when there is none."""
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.max(alarm_events.c.id))).scalar() or 0)


def append_event(conn: Connection, alarm_id: int, kind: str, ts: float) -> dict[str, Any]:
    """Append an event with the alarm's current state as payload; returns that state."""
    row = conn.execute(placed_alarms().where(alarms.c.id == alarm_id)).first()
    assert row is not None  # noqa: S101 - narrowing: called inside the transaction that holds the alarm
    alarm = alarm_dict(row)
    conn.execute(
        alarm_events.insert().values(
            alarm_id=alarm_id,
            device_id=row.device_id,
            rule_id=row.rule_id,
            kind=kind,
            severity=row.severity,
            ts=ts,
            payload=alarm,
        )
    )
    return alarm
