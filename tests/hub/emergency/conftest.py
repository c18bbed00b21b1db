"""Hubs with the alarms and emergency extensions, and a writer of alarms through the alarm store."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import hub.app
import hub.emergency.setup as setup
from hub.alarms.store import AlarmStore
from hub.alarms.tables import alarm_events
from hub.emergency.webhooks import RetryPolicy


@pytest.fixture(autouse=True)
def emergency_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub.app, "EXTENSION_MODULES", ("hub.alarms.setup", "hub.emergency.setup"))
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
    """Raises, updates and clears alarms through the alarm store, as the rules engine does."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = AlarmStore(engine)

    def raise_alarm(
        self,
        device_id: str,
        rule_id: str = "water-high",
        severity: str = "major",
        value: float = 1.0,
    ) -> int:
        change = self.store.raise_or_update(
            device_id, rule_id, severity, value, f"{rule_id} on {device_id}"
        )
        assert change.kind == "raised" and change.alarm is not None
        return int(change.alarm["id"])

    def update(self, alarm_id: int, value: float, severity: str | None = None) -> None:
        alarm = self.store.get(alarm_id)
        change = self.store.update_active(
            alarm["device_id"],
            alarm["rule_id"],
            severity or alarm["severity"],
            value,
            alarm["message"],
            force_update=True,
        )
        assert change.kind is not None

    def clear(self, alarm_id: int) -> None:
        alarm = self.store.get(alarm_id)
        change = self.store.clear_active(alarm["device_id"], alarm["rule_id"], "condition ended")
        assert change.kind == "cleared"

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
