"""Background tasks that live as long as the hub's application serves."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

Job = Callable[[], Coroutine[Any, Any, None]]
T = TypeVar("T")


async def in_thread(step: Callable[..., T], *args: Any) -> T:
    """Run the blocking ``step`` in a thread. Cancelled, it waits for the thread to end before
    it raises: a step still running after the hub stops would give its database connection back
    to a disposed engine, which leaves the connection's socket open."""
    future = asyncio.ensure_future(asyncio.to_thread(step, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise


def while_serving(app: web.Application, *jobs: Job) -> None:
    """Start each job when the application starts; cancel and await them all when it stops."""

    async def lifecycle(_: web.Application) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(job(), name=job.__qualname__) for job in jobs]
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    app.cleanup_ctx.append(lifecycle)


def every(seconds: float, step: Callable[[], object], log: logging.Logger, event: str) -> Job:
    """A job that runs the blocking ``step`` in a thread every ``seconds``; a failure is logged
    as ``event`` (one line) and the next period tries again."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await in_thread(step)
            except Exception:
                log.exception(event)

    loop.__qualname__ = event.removesuffix("_failed")
    return loop
