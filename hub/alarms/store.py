"""The alarm lifecycle in the database: raise, update, escalate, acknowledge, clear, history.

The database holds the truth. One active alarm per (device, rule) is the unique index on
``alarms.active_key`` (``"{device}:{rule}"`` while active, NULL once cleared): a second worker
that races to raise the same alarm finds it there (its insert does nothing) and updates the
winner's row instead. The rules engine passes its own transaction (``conn``), in which it also
writes the evaluation state that led to the change (:mod:`hub.alarms.state`).
Every statement that changes an alarm writes first and reads after, so that SQLite takes its
write lock at once. Each change appends an ``alarm_events`` row whose payload is the alarm as
the API shows it, place included.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as sa_postgresql
from sqlalchemy.dialects import sqlite as sa_sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from hub.alarms.rules import RANK, SEVERITIES
from hub.alarms.tables import alarm_events, alarms, rules
from hub.db import devices, found
from hub.errors import NotFoundError, ValidationError

HIDDEN = ("active_key",)
SHOWN = tuple(c.name for c in alarms.columns if c.name not in HIDDEN)


def active_key(device_id: str, rule_id: str) -> str:
    """The key that keeps one active alarm per device and rule."""
    return f"{device_id}:{rule_id}"


@dataclass(slots=True)
class Change:
    """What a lifecycle call did: the event kind appended (or None) and the alarm after it."""

    kind: str | None
    alarm: dict[str, Any] | None
    event: dict[str, Any] | None = None  # the appended event as the feed sends it
    active: bool = True  # is an alarm active for (device, rule) after the call


def alarm_view(row: Any, place: dict[str, Any] | None = None) -> dict[str, Any]:
    """An alarm as the API (and every event payload) shows it: its columns and its place."""
    m = row._mapping
    out = {k: m[k] for k in SHOWN}
    out["acknowledged"] = bool(out["acknowledged"])
    place = place or {}
    out["site"] = place.get("site", m.get("site", "")) or ""
    out["model"] = place.get("model", m.get("model", "")) or ""
    if "location" in place:
        out["location"] = place["location"]
    else:
        lat, lon = m.get("lat"), m.get("lon")
        out["location"] = None if lat is None else {"lat": lat, "lon": lon}
    return out


def _place_query(conn: Connection, device_id: str) -> dict[str, Any]:
    row = conn.execute(
        sa.select(devices.c.site, devices.c.model, devices.c.lat, devices.c.lon).where(
            devices.c.id == device_id
        )
    ).first()
    if row is None:
        return {"site": "", "model": "", "location": None}
    loc = None if row.lat is None else {"lat": row.lat, "lon": row.lon}
    return {"site": row.site, "model": row.model, "location": loc}


class AlarmStore:
    """Blocking alarm operations on the hub's database (call off the event loop)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def _tx(self, conn: Connection | None) -> Iterator[Connection]:
        """The caller's transaction (``conn``: the rules engine decides and writes in one), or a
        transaction of its own."""
        if conn is not None:
            yield conn
            return
        with self.engine.begin() as own:
            yield own

    # lifecycle ------------------------------------------------------------------------------

    def _event(
        self,
        conn: Connection,
        alarm_id: int,
        kind: str,
        ts: float,
        place: dict[str, Any] | None,
        row: Any = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Append the event; return the alarm after it, and the event as the feed sends it.
        ``row``: the alarm as the change returned it (else it is read)."""
        if row is None:
            row = conn.execute(sa.select(alarms).where(alarms.c.id == alarm_id)).one()
        view = alarm_view(row, place if place is not None else _place_query(conn, row.device_id))
        columns = {
            "alarm_id": alarm_id,
            "device_id": row.device_id,
            "rule_id": row.rule_id,
            "kind": kind,
            "severity": row.severity,
            "ts": ts,
        }
        result = conn.execute(alarm_events.insert().values(**columns, payload=view))
        pk = result.inserted_primary_key
        assert pk is not None  # noqa: S101 - narrowing: a one-row INSERT has a primary key
        cursor = int(pk[0])
        return view, {"cursor": cursor, **columns, "alarm": view}

    def raise_or_update(
        self,
        device_id: str,
        rule_id: str,
        severity: str,
        value: float | None,
        message: str,
        place: dict[str, Any] | None = None,
        *,
        force_update: bool = False,
        now: float | None = None,
        conn: Connection | None = None,
    ) -> Change:
        """Make the (device, rule) alarm active at ``severity``.

        Raises it if none is active; escalates (or lowers) its severity if it differs; records
        an 'updated' event only when ``force_update`` (the caller's throttle decided). The
        unique index settles races between workers: the insert does nothing if an alarm is
        active already, and that alarm is updated instead.
        """
        now = time.time() if now is None else now
        key = active_key(device_id, rule_id)
        with self._tx(conn) as c:
            insert = sa_postgresql.insert if c.dialect.name == "postgresql" else sa_sqlite.insert
            stmt = (
                insert(alarms)
                .values(
                    device_id=device_id,
                    rule_id=rule_id,
                    severity=severity,
                    state="active",
                    acknowledged=False,
                    ack_by="",
                    ack_note="",
                    value=value,
                    message=message,
                    raised_at=now,
                    updated_at=now,
                    cleared_by="",
                    assigned_team="",
                    dispatch_state="",
                    active_key=key,
                )
                .on_conflict_do_nothing(index_elements=[alarms.c.active_key])
                .returning(*alarms.c)  # the whole row: the event needs no read of it
            )
            row = c.execute(stmt).first()
            if row is not None:
                return Change("raised", *self._event(c, int(row.id), "raised", now, place, row))
            return self.update_active(
                device_id,
                rule_id,
                severity,
                value,
                message,
                place,
                force_update=force_update,
                now=now,
                conn=c,
            )

    def update_active(
        self,
        device_id: str,
        rule_id: str,
        severity: str,
        value: float | None,
        message: str,
        place: dict[str, Any] | None = None,
        *,
        force_update: bool = False,
        now: float | None = None,
        conn: Connection | None = None,
    ) -> Change:
        """Change the active alarm's severity or value; Change(None, None) if none is active."""
        now = time.time() if now is None else now
        key = active_key(device_id, rule_id)
        worse = SEVERITIES[RANK[severity] + 1 :]
        better = SEVERITIES[: RANK[severity]]
        values = {"severity": severity, "value": value, "message": message, "updated_at": now}
        with self._tx(conn) as conn:
            for kind, others in (("escalated", better), ("updated", worse)):
                # 'escalated' when the stored severity is lower than the new one.
                row = conn.execute(
                    alarms.update()
                    .where(alarms.c.active_key == key, alarms.c.severity.in_(others))
                    .values(**values)
                    .returning(*alarms.c)
                ).first()
                if row is not None:
                    return Change(kind, *self._event(conn, int(row.id), kind, now, place, row))
            if force_update:
                row = conn.execute(
                    alarms.update()
                    .where(alarms.c.active_key == key)
                    .values(**values)
                    .returning(*alarms.c)
                ).first()
                if row is not None:
                    return Change(
                        "updated", *self._event(conn, int(row.id), "updated", now, place, row)
                    )
            exists = conn.execute(sa.select(alarms.c.id).where(alarms.c.active_key == key)).first()
        return Change(None, None, active=exists is not None)

    def clear_active(
        self,
        device_id: str,
        rule_id: str,
        by: str,
        value: float | None = None,
        place: dict[str, Any] | None = None,
        *,
        now: float | None = None,
        conn: Connection | None = None,
    ) -> Change:
        """Clear the active (device, rule) alarm, if any (the condition ended)."""
        now = time.time() if now is None else now
        key = active_key(device_id, rule_id)
        with self._tx(conn) as conn:
            row = conn.execute(
                alarms.update()
                .where(alarms.c.active_key == key)
                .values(
                    state="cleared",
                    active_key=None,
                    cleared_at=now,
                    cleared_by=by,
                    updated_at=now,
                    **({"value": value} if value is not None else {}),
                )
                .returning(*alarms.c)
            ).first()
            if row is None:
                return Change(None, None, active=False)
            return Change(
                "cleared",
                *self._event(conn, int(row.id), "cleared", now, place, row),
                active=False,
            )

    def clear_by_hand(self, alarm_id: int, by: str, note: str = "") -> dict[str, Any]:
        """An operator clears an active alarm (the note, if any, replaces its message) and a
        ``cleared`` event is appended. ValidationError if it is cleared already, NotFoundError if
        there is none."""
        now = time.time()
        with self.engine.begin() as conn:
            changed = conn.execute(
                alarms.update()
                .where(alarms.c.id == alarm_id, alarms.c.state == "active")
                .values(
                    state="cleared",
                    active_key=None,
                    cleared_at=now,
                    cleared_by=by,
                    updated_at=now,
                    **({"message": note} if note else {}),
                )
            ).rowcount
            if changed:
                return self._event(conn, alarm_id, "cleared", now, None)[0]
        self._refuse(alarm_id, "cleared")
        raise AssertionError("unreachable")

    def acknowledge(self, alarm_id: int, by: str, note: str = "") -> dict[str, Any]:
        """An operator acknowledges an alarm, which stays active until cleared, and an
        ``acknowledged`` event is appended. ValidationError if it is acknowledged already."""
        now = time.time()
        with self.engine.begin() as conn:
            changed = conn.execute(
                alarms.update()
                .where(alarms.c.id == alarm_id, alarms.c.acknowledged.is_(False))
                .values(acknowledged=True, ack_by=by, ack_at=now, ack_note=note, updated_at=now)
            ).rowcount
            if changed:
                return self._event(conn, alarm_id, "acknowledged", now, None)[0]
        self._refuse(alarm_id, "acknowledged")
        raise AssertionError("unreachable")

    def _refuse(self, alarm_id: int, what: str) -> None:
        with self.engine.connect() as conn:
            row = found(conn, alarms.c.id, alarm_id, "alarm")
        if what == "acknowledged":
            raise ValidationError(f"alarm {alarm_id} is already acknowledged by {row.ack_by!r}")
        raise ValidationError(f"alarm {alarm_id} is already cleared")

    # reading --------------------------------------------------------------------------------

    def active(self) -> dict[tuple[str, str], tuple[int, str]]:
        """Every active alarm: (device, rule) -> (id, severity)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    alarms.c.id, alarms.c.device_id, alarms.c.rule_id, alarms.c.severity
                ).where(alarms.c.active_key.is_not(None))
            )
            return {(r.device_id, r.rule_id): (int(r.id), r.severity) for r in rows}

    def _joined(self) -> sa.Select[Any]:
        return sa.select(
            alarms, devices.c.site, devices.c.model, devices.c.lat, devices.c.lon
        ).select_from(alarms.outerjoin(devices, devices.c.id == alarms.c.device_id))

    def get(self, alarm_id: int, history_limit: int = 500) -> dict[str, Any]:
        """An alarm with its place and its event history, oldest first (up to ``history_limit``);
        NotFoundError if there is none."""
        with self.engine.connect() as conn:
            row = conn.execute(self._joined().where(alarms.c.id == alarm_id)).first()
            if row is None:
                raise NotFoundError(f"no alarm {alarm_id}")
            events = conn.execute(
                sa.select(alarm_events)
                .where(alarm_events.c.alarm_id == alarm_id)
                .order_by(alarm_events.c.id)
                .limit(history_limit)
            )
            history = [
                {
                    "cursor": int(e.id),
                    "kind": e.kind,
                    "severity": e.severity,
                    "ts": e.ts,
                    "alarm": e.payload,
                }
                for e in events
            ]
        return {**alarm_view(row), "history": history}

    def search(
        self,
        *,
        state: str = "",
        severities: Sequence[str] = (),
        device: str = "",
        site: str = "",
        rule: str = "",
        acknowledged: bool | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of alarms (newest first) matching the filters, and how many match."""
        conds: list[Any] = []
        if state:
            conds.append(alarms.c.state == state)
        if severities:
            conds.append(alarms.c.severity.in_(list(severities)))
        if device:
            conds.append(alarms.c.device_id == device)
        if site:
            conds.append(devices.c.site == site)
        if rule:
            conds.append(alarms.c.rule_id == rule)
        if acknowledged is not None:
            conds.append(alarms.c.acknowledged.is_(acknowledged))
        query = self._joined().where(*conds).order_by(alarms.c.id.desc())
        count = (
            sa.select(sa.func.count())
            .select_from(alarms.outerjoin(devices, devices.c.id == alarms.c.device_id))
            .where(*conds)
        )
        with self.engine.connect() as conn:
            total = int(conn.execute(count).scalar_one())
            rows = conn.execute(query.offset(offset).limit(limit))
            return [alarm_view(r) for r in rows], total

    def events_of(self, device_id: str = "", rule_id: str = "") -> list[dict[str, Any]]:
        """Events in cursor order (for tests and tools), optionally for one device or rule."""
        query = sa.select(alarm_events).order_by(alarm_events.c.id)
        if device_id:
            query = query.where(alarm_events.c.device_id == device_id)
        if rule_id:
            query = query.where(alarm_events.c.rule_id == rule_id)
        with self.engine.connect() as conn:
            return [
                {
                    "cursor": int(e.id),
                    "alarm_id": int(e.alarm_id),
                    "device_id": e.device_id,
                    "rule_id": e.rule_id,
                    "kind": e.kind,
                    "severity": e.severity,
                    "ts": e.ts,
                    "alarm": e.payload,
                }
                for e in conn.execute(query)
            ]

    # rules ----------------------------------------------------------------------------------

    def rule_rows(self) -> list[dict[str, Any]]:
        """Every stored rule, enabled or not, as the definition it was put with."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(rules).order_by(rules.c.id))
            return [
                {
                    "id": r.id,
                    "definition": dict(r.definition),
                    "enabled": bool(r.enabled),
                    "updated": r.updated,
                }
                for r in rows
            ]

    def rules_version(self) -> tuple[int, float]:
        """(count, newest update time) of the rules: cheap to poll, so a worker reloads its rules
        only when another worker has changed them. A deletion changes the count."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(sa.func.count(), sa.func.max(rules.c.updated))).one()
        return int(row[0]), float(row[1] or 0.0)

    def put_rule(self, rule_id: str, definition: dict[str, Any], enabled: bool) -> bool:
        """Insert or replace a rule; True if it was new."""
        now = time.time()
        with self.engine.begin() as conn:
            changed = conn.execute(
                rules.update()
                .where(rules.c.id == rule_id)
                .values(definition=definition, enabled=enabled, updated=now)
            ).rowcount
            if changed:
                return False
            conn.execute(
                rules.insert().values(
                    id=rule_id, definition=definition, enabled=enabled, updated=now
                )
            )
            return True

    def seed_rule(self, rule_id: str, definition: dict[str, Any], enabled: bool) -> bool:
        """Insert a rule from a file unless the database already has one by that id.

        Looked up first: a hub starting on its own database finds every rule there, and the
        IntegrityError of a refused insert holds its connection in a reference cycle until the
        collector runs (a descriptor per rule and start)."""
        try:
            with self.engine.begin() as conn:
                if conn.execute(sa.select(rules.c.id).where(rules.c.id == rule_id)).first():
                    return False
                conn.execute(
                    rules.insert().values(
                        id=rule_id, definition=definition, enabled=enabled, updated=time.time()
                    )
                )
            return True
        except IntegrityError:
            return False

    def delete_rule(self, rule_id: str) -> bool:
        """Delete a rule; True if there was one. Its active alarms are cleared by the engine at its
        next reload."""
        with self.engine.begin() as conn:
            return bool(conn.execute(rules.delete().where(rules.c.id == rule_id)).rowcount)
