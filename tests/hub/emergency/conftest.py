"""Hubs with the emergency extension, and a writer of alarm rows as the rules engine leaves them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import hub.app
import hub.emergency.setup as setup
from hub.alarms.tables import alarm_events, alarms
from hub.emergency.alarmview import append_event
from hub.emergency.webhooks import RetryPolicy


@pytest.fixture(autouse=True)
def emergency_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub.app, "EXTENSION_MODULES", ("hub.emergency.setup",))
    monkeypatch.setattr(
        setup,
        "SETTINGS",
        setup.EmergencySettings(
            poll_s=0.05,
            gap_wait_s=0.5,
            webhook_interval_s=0.05,
            retry=RetryPolicy(base_s=0.05, factor=2.0, max_s=0.2, max_attempts=3, timeout_s=2.0),
        ),
    )


class AlarmWriter:
    """Writes ``alarms`` and ``alarm_events`` rows the way the rules engine does."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def raise_alarm(
        self,
        device_id: str,
        rule_id: str = "water-high",
        severity: str = "major",
        value: float = 1.0,
    ) -> int:
        now = time.time()
        with self.engine.begin() as conn:
            pk = conn.execute(
                alarms.insert().values(
                    device_id=device_id,
                    rule_id=rule_id,
                    severity=severity,
                    state="active",
                    acknowledged=False,
                    ack_by="",
                    ack_note="",
                    value=value,
                    message=f"{rule_id} on {device_id}",
                    raised_at=now,
                    updated_at=now,
                    cleared_by="",
                    assigned_team="",
                    dispatch_state="",
                    active_key=f"{device_id}|{rule_id}",
                )
            ).inserted_primary_key
            assert pk is not None
            append_event(conn, int(pk[0]), "raised", now)
        return int(pk[0])

    def update(self, alarm_id: int, value: float, severity: str | None = None) -> None:
        now = time.time()
        values: dict[str, Any] = {"value": value, "updated_at": now}
        if severity:
            values["severity"] = severity
        with self.engine.begin() as conn:
            conn.execute(alarms.update().where(alarms.c.id == alarm_id).values(**values))
            append_event(conn, alarm_id, "escalated" if severity else "updated", now)

    def clear(self, alarm_id: int) -> None:
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(
                alarms.update()
                .where(alarms.c.id == alarm_id)
                .values(state="cleared", cleared_at=now, active_key=None, updated_at=now)
            )
            append_event(conn, alarm_id, "cleared", now)

    def event_kinds(self, alarm_id: int) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(alarm_events.c.kind)
                .where(alarm_events.c.alarm_id == alarm_id)
                .order_by(alarm_events.c.id)
            )
            return [r.kind for r in rows]


@pytest.fixture
def alarm_writer() -> Callable[[Engine], AlarmWriter]:
    return AlarmWriter
