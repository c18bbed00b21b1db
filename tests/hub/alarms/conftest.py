"""A hub with the rules-and-alarms extension, and helpers to register gauges and put rules;
and ``bench``, the rules engine alone on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import hub.app
from govedge.contract import Telemetry
from hub.alarms.api import ALARM_ENGINE
from hub.alarms.engine import AlarmEngine
from hub.alarms.store import AlarmStore
from hub.db import create_schema, make_engine
from hub.ingest.pipeline import Accepted
from hub.registry import Registry


@pytest.fixture
def alarm_hub(
    monkeypatch: pytest.MonkeyPatch, hub_config: Callable[..., Any], start_hub: Any
) -> Callable[..., Any]:
    """Start a hub whose extensions include hub.alarms.setup."""
    monkeypatch.setattr(hub.app, "EXTENSION_MODULES", ("hub.alarms.setup",))

    async def start(**overrides: Any) -> Any:
        return await start_hub(hub_config(**overrides))

    return start


class Kit:
    """Helpers for a running hub: unique ids, registration, rules, waiting for events."""

    @staticmethod
    def uid(prefix: str) -> str:
        """Device ids unique per test: the broker and its retained messages are session-wide."""
        return f"{prefix}-{uuid.uuid4().hex[:6]}"

    @staticmethod
    async def register(rh: Any, device_id: str, **fields: Any) -> None:
        status, body = await rh.call("POST", "/api/v1/devices", json={"id": device_id, **fields})
        assert status == 201, body

    @staticmethod
    async def put_rule(rh: Any, rule_id: str, definition: dict[str, Any]) -> None:
        status, body = await rh.call("PUT", f"/api/v1/rules/{rule_id}", json=definition)
        assert status in (200, 201), body

    @staticmethod
    async def kinds(rh: Any, device_id: str) -> list[tuple[str, str]]:
        """(kind, severity) of every alarm event of a device, in cursor order."""
        store = rh.hub.extensions[ALARM_ENGINE].store
        events = await asyncio.to_thread(store.events_of, device_id)
        return [(e["kind"], e["severity"]) for e in events]


@pytest.fixture
def kit() -> Kit:
    return Kit()


class Bench:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        create_schema(self.engine)
        self.registry = Registry(self.engine)
        self.store = AlarmStore(self.engine)
        self.alarms = AlarmEngine(self.store, self.registry)
        self.seq = 0
        self.boot = uuid.uuid4().hex

    def rule(self, rule_id: str, **definition: Any) -> None:
        self.store.put_rule(rule_id, definition, True)
        self.alarms.reload()

    def send(
        self,
        device_id: str,
        engine: AlarmEngine | None = None,
        now: float | None = None,
        **data: float,
    ) -> None:
        self.seq += 1
        msg = Telemetry(
            device_id=device_id, boot_id=self.boot, seq=self.seq, ts=time.time(), data=data
        )
        (engine or self.alarms).on_batch(Accepted(telemetry=[msg]), now)

    def kinds(self, device_id: str) -> list[tuple[str, str]]:
        return [(e["kind"], e["severity"]) for e in self.store.events_of(device_id)]


@pytest.fixture
def bench(registry_url: str) -> Iterator[Bench]:
    b = Bench(registry_url)
    b.registry.register("s1", model="gauge", site="north", lat=31.2, lon=121.5)
    b.registry.register("s2", model="gauge", site="south", labels={"zone": "a"})
    b.registry.register("k1", model="kiosk", site="north")
    yield b
    b.engine.dispose()


LEVELS = [
    {"severity": "minor", "raise": 3.0, "clear": 2.9},
    {"severity": "major", "raise": 4.0, "clear": 3.9},
]
