"""A hub with the rules-and-alarms extension, and helpers to register gauges and put rules."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest

import hub.app
from hub.alarms.api import ALARM_ENGINE


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
