"""Background jobs: a hub that stops waits for the blocking steps it started."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web

from hub.alarms.engine import AlarmEngine
from hub.app import create_app
from hub.background import in_thread
from hub.context import HUB_KEY


async def test_a_cancelled_step_has_ended_when_the_cancellation_is_raised() -> None:
    ended = threading.Event()

    def step() -> None:
        time.sleep(0.3)
        ended.set()

    task = asyncio.create_task(in_thread(step))
    await asyncio.sleep(0.05)  # the step runs in its thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ended.is_set()


async def test_a_step_in_flight_gives_its_connection_back_before_the_engine_is_disposed(
    hub_config: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An alarm tick still in its thread when the hub stopped gave its connection back to the
    disposed engine's pool, which kept the socket (PostgreSQL) open until collected."""
    tick = AlarmEngine.tick
    in_tick, ticked = threading.Event(), threading.Event()

    def slow_tick(self: AlarmEngine, *args: Any, **kwargs: Any) -> Any:
        in_tick.set()
        time.sleep(0.3)
        try:
            return tick(self, *args, **kwargs)
        finally:
            ticked.set()

    monkeypatch.setattr(AlarmEngine, "tick", slow_tick)
    app = create_app(hub_config(presence_interval_s=0.05), start_mqtt=False)
    engine = app[HUB_KEY].engine
    order: list[str] = []
    sa.event.listen(engine, "checkin", lambda *_: order.append("checkin"))
    sa.event.listen(engine, "engine_disposed", lambda *_: order.append("disposed"))
    runner = web.AppRunner(app)
    await runner.setup()
    assert await asyncio.to_thread(in_tick.wait, 5)
    await runner.cleanup()
    assert await asyncio.to_thread(ticked.wait, 5)
    assert "disposed" in order
    assert "checkin" not in order[order.index("disposed") :], order
