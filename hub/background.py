"""Background tasks that live as long as the hub's application serves."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from aiohttp import web

Job = Callable[[], Coroutine[Any, Any, None]]


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
                await asyncio.to_thread(step)
            except Exception:
                log.exception(event)

    loop.__qualname__ = event.removesuffix("_failed")
    return loop
