"""Appending to and searching the audit log."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.audit.tables import audit_log

MAX_TEXT = 300


class AuditStore:
    """Append-only: ``append`` and ``search`` are the only operations."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_table(self) -> None:
        """Create the audit table if it is missing (at start-up)."""
        audit_log.create(self.engine, checkfirst=True)

    def append(
        self,
        *,
        actor: str,
        role: str,
        method: str,
        path: str,
        action: str,
        status: int,
        remote: str,
        targets: Mapping[str, Any],
        error: str = "",
        ts: float | None = None,
    ) -> int:
        """Record one API call; return its id. Text fields are cut to their column's length, so a
        long path or error never makes the call fail to be recorded."""
        with self.engine.begin() as conn:
            result = conn.execute(
                audit_log.insert().values(
                    ts=ts if ts is not None else time.time(),
                    actor=actor[:64],
                    role=role[:16],
                    method=method[:8],
                    path=path[:MAX_TEXT],
                    action=action[:64],
                    status=status,
                    remote=remote[:64],
                    targets=dict(targets),
                    error=error[:MAX_TEXT],
                )
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def search(
        self,
        *,
        q: str = "",
        actor: str = "",
        device: str = "",
        action: str = "",
        since: float | None = None,
        until: float | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], int]:
        """Newest first. ``q`` matches the path, action, actor or targets (as text);
        ``device`` matches a device id in the targets or the path."""
        conds: list[Any] = []
        if actor:
            conds.append(audit_log.c.actor == actor)
        if action:
            conds.append(audit_log.c.action.like(f"{_escape(action)}%", escape="\\"))
        if since is not None:
            conds.append(audit_log.c.ts >= since)
        if until is not None:
            conds.append(audit_log.c.ts <= until)
        for needle in (q, device):
            if needle:
                pattern = f"%{_escape(needle)}%"
                conds.append(
                    sa.or_(
                        audit_log.c.path.like(pattern, escape="\\"),
                        audit_log.c.action.like(pattern, escape="\\"),
                        audit_log.c.actor.like(pattern, escape="\\"),
                        sa.cast(audit_log.c.targets, sa.Text).like(pattern, escape="\\"),
                    )
                )
        query = sa.select(audit_log).where(*conds)
        count = sa.select(sa.func.count()).select_from(audit_log).where(*conds)
        with self.engine.connect() as conn:
            total = int(conn.execute(count).scalar_one())
            rows = conn.execute(
                query.order_by(audit_log.c.id.desc()).offset(offset).limit(limit)
            ).all()
        return [dict(r._mapping) for r in rows], total


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
