"""Inspection tasks: created by an operator, fetched and worked by a terminal, reviewed, closed."""

from __future__ import annotations

import secrets
import time
from datetime import date
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.errors import NotFoundError
from hub.inspection.db import tasks
from hub.inspection.errors import InspectionError, TransitionError

STATES = ("assigned", "accepted", "in_progress", "submitted", "reviewed", "closed")
TERMINAL_MOVES = {
    "accepted": {"assigned"},
    "in_progress": {"assigned", "accepted", "in_progress"},
    "submitted": {"assigned", "accepted", "in_progress"},
}
"""State a terminal may set -> the states it may set it from. A terminal offline for days sends
only a task's latest state, so each may be reached straight from "assigned"."""


class ChecklistItem(msgspec.Struct, forbid_unknown_fields=True):
    """One check of a task's checklist."""

    id: str
    text: str
    photo_required: bool = False


class NewTask(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The body of POST /api/v1/inspection/tasks."""

    site: str
    lat: float
    lon: float
    checklist: list[ChecklistItem]
    due: str  # ISO date
    inspector_id: str
    device_id: str
    id: str = ""


class Review(msgspec.Struct, forbid_unknown_fields=True):
    """The body of POST /api/v1/inspection/tasks/{id}/review."""

    verdict: str  # "accept" (-> reviewed) or "reject" (-> in_progress, with the note)
    note: str = ""


class Assignment(msgspec.Struct, forbid_unknown_fields=True):
    """The body of POST /api/v1/inspection/tasks/{id}/assign."""

    device_id: str
    inspector_id: str = ""  # unchanged when empty


REASSIGNABLE = {"assigned", "accepted", "in_progress"}


class StateChange(msgspec.Struct, forbid_unknown_fields=True):
    """A terminal's move of its task: accepted, in_progress or submitted."""

    state: str


def _row(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "site": row.site,
        "lat": row.lat,
        "lon": row.lon,
        "checklist": row.checklist,
        "due": row.due,
        "inspector_id": row.inspector_id,
        "device_id": row.device_id,
        "state": row.state,
        "review_note": row.review_note,
        "created": row.created,
        "updated": row.updated,
    }


class TaskService:
    """Inspection tasks: creation, assignment, terminal moves, review and closing."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, new: NewTask) -> dict[str, Any]:
        """Create a task in state "assigned" and return it; the id is generated unless given.

        Raises InspectionError for a missing field, a bad place or due date, and TransitionError for
        an empty checklist, duplicate item ids or an id that exists."""
        for name in ("site", "inspector_id", "device_id"):
            if not getattr(new, name).strip():
                raise InspectionError(f"{name} is required")
        if not (-90 <= new.lat <= 90 and -180 <= new.lon <= 180):
            raise InspectionError("lat must be within -90..90 and lon within -180..180")
        try:
            date.fromisoformat(new.due[:10])
        except ValueError:
            raise InspectionError(f"due must be a date (YYYY-MM-DD), not {new.due!r}") from None
        if not new.checklist:
            raise TransitionError("a task needs at least one checklist item")
        ids = [item.id for item in new.checklist]
        if len(set(ids)) != len(ids):
            raise TransitionError("checklist item ids must be unique")
        now = time.time()
        task_id = new.id or "T" + secrets.token_hex(6)
        values = {
            "id": task_id,
            "site": new.site,
            "lat": new.lat,
            "lon": new.lon,
            "checklist": msgspec.to_builtins(new.checklist),
            "due": new.due,
            "inspector_id": new.inspector_id,
            "device_id": new.device_id,
            "state": "assigned",
            "review_note": "",
            "created": now,
            "updated": now,
        }
        with self.engine.begin() as conn:
            if conn.execute(sa.select(tasks.c.id).where(tasks.c.id == task_id)).first():
                raise TransitionError(f"task {task_id} exists already")
            conn.execute(tasks.insert().values(**values))
        return values

    def get(self, task_id: str) -> dict[str, Any]:
        """A task as the API shows it; NotFoundError if there is none."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(tasks).where(tasks.c.id == task_id)).first()
        if row is None:
            raise NotFoundError(f"no inspection task {task_id!r}")
        return _row(row)

    def list(self, device_id: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        """Tasks ordered by due date, optionally of one terminal or in one state."""
        query = sa.select(tasks).order_by(tasks.c.due, tasks.c.id)
        if device_id:
            query = query.where(tasks.c.device_id == device_id)
        if state:
            query = query.where(tasks.c.state == state)
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(query)]

    def _move(self, task_id: str, allowed_from: set[str], to: str, **extra: Any) -> dict[str, Any]:
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(tasks).where(tasks.c.id == task_id)).first()
            if row is None:
                raise NotFoundError(f"no inspection task {task_id!r}")
            if row.state not in allowed_from:
                raise TransitionError(f"task {task_id} is {row.state}; it cannot become {to}")
            conn.execute(
                tasks.update()
                .where(tasks.c.id == task_id)
                .values(state=to, updated=time.time(), **extra)
            )
        return self.get(task_id)

    def terminal_move(self, device_id: str, task_id: str, state: str) -> dict[str, Any]:
        """A terminal's move of its own task (see ``TERMINAL_MOVES``); repeating the current state
        is a no-op, so a terminal may resend after a lost answer.

        Raises NotFoundError when the task is not assigned to ``device_id`` (no other terminal's
        task is revealed), TransitionError for a move not allowed from the task's state."""
        if state not in TERMINAL_MOVES:
            raise TransitionError(
                f"a terminal may set accepted, in_progress or submitted, not {state!r}"
            )
        task = self.get(task_id)
        if task["device_id"] != device_id:
            raise NotFoundError(f"task {task_id} is not assigned to {device_id}")
        if task["state"] == state:
            return task
        return self._move(task_id, TERMINAL_MOVES[state], state)

    def assign(self, task_id: str, to: Assignment) -> dict[str, Any]:
        """Give the task to another terminal (and inspector): only before the hub holds any of
        its evidence, since records signed by one terminal are never taken from another. The
        task starts again at "assigned"."""
        from hub.inspection.db import records

        if not to.device_id.strip():
            raise TransitionError("device_id is required")
        with self.engine.connect() as conn:
            held = conn.execute(
                sa.select(sa.func.count()).select_from(records).where(records.c.task_id == task_id)
            ).scalar()
        if held:
            raise TransitionError(
                f"task {task_id} has {held} evidence record(s) from its terminal: it cannot move"
            )
        self.get(task_id)  # a 404 for an unknown task before the state's 409
        extra = {"device_id": to.device_id.strip()}
        if to.inspector_id.strip():
            extra["inspector_id"] = to.inspector_id.strip()
        return self._move(task_id, REASSIGNABLE, "assigned", **extra)

    def review(self, task_id: str, review: Review) -> dict[str, Any]:
        """Accept a submitted task (it becomes "reviewed") or reject it back to "in_progress" for
        the terminal to work on; the note is kept either way. TransitionError otherwise."""
        if review.verdict == "accept":
            return self._move(task_id, {"submitted"}, "reviewed", review_note=review.note)
        if review.verdict == "reject":
            return self._move(task_id, {"submitted"}, "in_progress", review_note=review.note)
        raise TransitionError("verdict must be accept or reject")

    def close(self, task_id: str) -> dict[str, Any]:
        """Close a reviewed task: the end of its life. TransitionError from any other state."""
        return self._move(task_id, {"reviewed"}, "closed")
