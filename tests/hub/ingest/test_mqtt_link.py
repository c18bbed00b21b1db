"""The hub's MQTT link gives back every descriptor it opened when it stops."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Callable
from typing import Any

from aiohttp import web

from hub.app import create_app
from hub.context import HUB_KEY


def _open_descriptors() -> int:
    """Open sockets: what paho's clients hold. (Database files held by a reference cycle of
    SQLAlchemy's, such as a pooled connection checked in after the engine was disposed, are
    closed by the collector, which this test turns off.)"""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:  # closed while listing
            pass
    return count


async def _start_and_stop(hub_config: Callable[..., Any]) -> None:
    app = create_app(hub_config())
    runner = web.AppRunner(app)
    await runner.setup()
    assert await asyncio.to_thread(app[HUB_KEY].link.connected.wait, 10)
    await runner.cleanup()


async def test_a_stopped_hub_keeps_no_descriptors(hub_config: Callable[..., Any]) -> None:
    """Each paho client holds a socket pair it closes only when collected; a process that
    starts and stops hubs (or whose hub restarts in place) must not pile them up, since past
    1024 descriptors the serial drivers' select() fails."""
    await _start_and_stop(hub_config)  # the first start opens what stays open (pools, logs)
    gc.disable()  # nothing closed by the collector: only what the hub closes itself counts
    try:
        before = _open_descriptors()
        for _ in range(3):
            await _start_and_stop(hub_config)
        after = _open_descriptors()
    finally:
        gc.enable()
    assert after <= before + 1, f"{after - before} sockets left by three hubs"
