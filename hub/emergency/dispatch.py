"""Response teams, supplies and shelters; assigning an alarm to a team and tracking it.

An assignment moves ``assigned -> en_route -> on_site -> resolved`` (a team may be replaced at
any point before ``resolved``). Each step updates the alarm row and appends an alarm event
(``assigned`` or ``dispatch``) in the same transaction, so the feed and webhooks carry it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from govedge.logs import fields
from hub.alarms.tables import alarms
from hub.db import found
from hub.emergency.alarmview import alarm_dict, append_event, placed_alarms
from hub.emergency.geo import distance_m
from hub.emergency.tables import resources
from hub.errors import NotFoundError, ValidationError

log = logging.getLogger("govedge.hub.dispatch")

KINDS = ("team", "supply", "shelter")
STATES = ("assigned", "en_route", "on_site", "resolved")
NEXT: dict[str, tuple[str, ...]] = {
    "": ("assigned",),
    "assigned": ("en_route", "on_site", "resolved"),
    "en_route": ("on_site", "resolved"),
    "on_site": ("resolved",),
    "resolved": (),
}


def resource_dict(row: Any) -> dict[str, Any]:
    """A resource row as the API shows it."""
    return {
        "id": row.id,
        "kind": row.kind,
        "name": row.name,
        "location": {"lat": row.lat, "lon": row.lon},
        "capacity": row.capacity,
        "available": row.available,
        "unit": row.unit,
        "contact": row.contact,
        "notes": row.notes,
        "updated": row.updated,
    }


def check_resource(data: dict[str, Any], partial: bool = False) -> dict[str, Any]:
    """The column values of a resource body, whose fields the route's struct has checked
    (``hub.emergency.api.ResourceChange``): ``location`` becomes lat and lon, a new resource needs
    a kind, a name and a place, and its stock defaults to its capacity."""
    location = data.pop("location", None)
    if location is not None:
        data.setdefault("lat", location["lat"])
        data.setdefault("lon", location["lon"])
    if not partial:
        for name in ("kind", "name", "lat", "lon"):
            if name not in data:
                raise ValidationError(f"field {name!r} is required", f"$.{name}")
        data.setdefault("capacity", 0)
        data.setdefault("available", data["capacity"])
    return data


class DispatchService:
    """Resource CRUD, nearest resources of an alarm, and assignments."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- resources -----------------------------------------------------------------------

    def create_resource(self, data: dict[str, Any]) -> dict[str, Any]:
        """Add a team, supply depot or shelter; its stock starts at its capacity unless given."""
        values = check_resource(dict(data))
        with self.engine.begin() as conn:
            new_id = conn.execute(
                resources.insert().values(**values, updated=time.time())
            ).inserted_primary_key
        assert new_id is not None  # noqa: S101 - narrowing: a one-row INSERT has a primary key
        return self.get_resource(int(new_id[0]))

    def get_resource(self, resource_id: int) -> dict[str, Any]:
        """One resource as the API shows it; NotFoundError if there is none."""
        with self.engine.connect() as conn:
            row = found(conn, resources.c.id, resource_id, "resource")
        return resource_dict(row)

    def list_resources(self, kind: str = "") -> list[dict[str, Any]]:
        """Resources ordered by kind and name, optionally of one kind only (ValidationError if the
        kind is unknown)."""
        if kind and kind not in KINDS:
            raise ValidationError(f"query parameter 'kind' must be one of {', '.join(KINDS)}")
        query = sa.select(resources).order_by(resources.c.kind, resources.c.name)
        if kind:
            query = query.where(resources.c.kind == kind)
        with self.engine.connect() as conn:
            return [resource_dict(r) for r in conn.execute(query)]

    def update_resource(self, resource_id: int, data: dict[str, Any]) -> dict[str, Any]:
        """Change the given fields of a resource (a team's position, a depot's stock) and return
        it."""
        values = check_resource(dict(data), partial=True)
        self.get_resource(resource_id)
        with self.engine.begin() as conn:
            conn.execute(
                resources.update()
                .where(resources.c.id == resource_id)
                .values(**values, updated=time.time())
            )
        return self.get_resource(resource_id)

    def delete_resource(self, resource_id: int) -> None:
        """Remove a resource; NotFoundError if there is none."""
        self.get_resource(resource_id)
        with self.engine.begin() as conn:
            conn.execute(resources.delete().where(resources.c.id == resource_id))

    # --- alarms --------------------------------------------------------------------------

    def alarm_location(self, alarm_id: int) -> tuple[dict[str, Any], float | None, float | None]:
        """The alarm and the location of its device (lat and lon are None when the device has
        none)."""
        with self.engine.connect() as conn:
            row = conn.execute(placed_alarms().where(alarms.c.id == alarm_id)).first()
        if row is None:
            raise NotFoundError(f"no alarm {alarm_id}")
        return alarm_dict(row), row.lat, row.lon

    def nearest(self, alarm_id: int, kind: str = "", limit: int = 5) -> dict[str, Any]:
        """The resources nearest the alarm's device, by great-circle distance."""
        alarm, lat, lon = self.alarm_location(alarm_id)
        if lat is None or lon is None:
            raise ValidationError(
                f"device {alarm['device_id']!r} of alarm {alarm_id} has no location"
            )
        items = []
        for res in self.list_resources(kind):
            loc = res["location"]
            res["distance_m"] = round(distance_m(lat, lon, loc["lat"], loc["lon"]), 1)
            items.append(res)
        items.sort(key=lambda r: r["distance_m"])
        return {"alarm_id": alarm_id, "location": {"lat": lat, "lon": lon}, "items": items[:limit]}

    def assign(self, alarm_id: int, team_id: Any, by: str, note: str = "") -> dict[str, Any]:
        """Give an alarm to a team (or hand it to another team) and append an ``assigned`` event.

        Raises ValidationError when ``team_id`` is not the id of a team or the alarm is resolved."""
        if isinstance(team_id, bool) or not isinstance(team_id, int):
            raise ValidationError("field 'team' must be the integer id of a team")
        team = self.get_resource(team_id)
        if team["kind"] != "team":
            raise ValidationError(f"resource {team_id} is a {team['kind']}, not a team")
        now = time.time()
        with self.engine.begin() as conn:
            row = found(conn, alarms.c.id, alarm_id, "alarm")
            if row.dispatch_state == "resolved":
                raise ValidationError(f"alarm {alarm_id} is resolved; nothing to assign")
            conn.execute(
                alarms.update()
                .where(alarms.c.id == alarm_id)
                .values(assigned_team=str(team_id), dispatch_state="assigned", updated_at=now)
            )
            alarm = append_event(conn, alarm_id, "assigned", now)
        log.info(
            "alarm_assigned",
            extra=fields(alarm=alarm_id, team=team_id, by=by, note=note[:200]),
        )
        return alarm

    def advance(self, alarm_id: int, state: Any, by: str, note: str = "") -> dict[str, Any]:
        """Move an assignment forward along ``assigned -> en_route -> on_site -> resolved`` (steps
        may be skipped, never undone) and append a ``dispatch`` event.

        Raises ValidationError for a state that is not ahead of the current one, or when another
        request moved the alarm meanwhile (compare-and-set; the caller may retry)."""
        if state not in STATES[1:]:
            raise ValidationError(f"field 'state' must be one of {', '.join(STATES[1:])}")
        now = time.time()
        with self.engine.begin() as conn:
            row = found(conn, alarms.c.id, alarm_id, "alarm")
            current = row.dispatch_state or ""
            if state not in NEXT.get(current, ()):
                raise ValidationError(
                    f"alarm {alarm_id} is {current or 'not assigned'}; it cannot become {state}"
                )
            updated = conn.execute(
                alarms.update()
                .where(alarms.c.id == alarm_id, alarms.c.dispatch_state == current)
                .values(dispatch_state=state, updated_at=now)
            ).rowcount
            if updated != 1:
                raise ValidationError(f"alarm {alarm_id} changed meanwhile; try again")
            alarm = append_event(conn, alarm_id, "dispatch", now)
        log.info("alarm_dispatch", extra=fields(alarm=alarm_id, state=state, by=by))
        return alarm

    def board(self) -> list[dict[str, Any]]:
        """Alarms the center still has in hand: active, or dispatched and not resolved."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                placed_alarms()
                .where(
                    sa.or_(
                        alarms.c.state == "active",
                        alarms.c.dispatch_state.in_(STATES[:3]),
                    )
                )
                .order_by(alarms.c.raised_at.desc())
                .limit(1000)
            )
            return [alarm_dict(r) for r in rows]
