"""Ending tasks within a bound, whatever they are awaiting.

``task.cancel()`` then ``await task`` can wait forever on Python 3.11: ``asyncio.wait_for``
swallows a cancellation that arrives as its inner awaitable completes (cpython issue 86296, fixed
in 3.12), and the task runs on. Here a task is cancelled again until it ends or the bound passes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from govedge.logs import fields, get_logger

log = get_logger(__name__)


async def cancel_within(tasks: Iterable[asyncio.Task[Any]], bound_s: float) -> int:
    """Cancel ``tasks`` (repeatedly) and wait up to ``bound_s`` for them to end.

    Returns how many were still running at the bound (each one is logged); exceptions of the
    tasks that ended are logged, never raised.
    """
    pending = {t for t in tasks if not t.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound_s
    while pending:
        left = deadline - loop.time()
        if left <= 0:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(left, 0.1))
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("task_failed", exc_info=task.exception(), extra=fields(task=task.get_name()))
    for task in pending:
        log.error("task_not_stopping", extra=fields(task=task.get_name(), bound_s=bound_s))
    return len(pending)
