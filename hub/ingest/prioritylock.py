"""A lock the alarm lane takes ahead of the bulk lane.

A plain ``threading.Lock`` is not fair: a thread that releases it and takes it again within
its own GIL slice (the bulk lane between two chunks of a batch) wins over a thread that was
blocked on it, which must first get the GIL back. Under a telemetry flood the alarm lane then
waited for several of the bulk lane's chunks in a row. Here an urgent taker announces itself
first; an ordinary taker waits until no urgent one is waiting or holding, so the alarm lane
waits for at most the one section the bulk lane is in.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType


class PriorityLock:
    """``with lock:`` for ordinary work; ``with lock.urgent():`` to go ahead of it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._urgent = 0  # urgent takers waiting for the lock or holding it
        self._coming = 0  # urgent work announced, not yet done (see ``announce``)
        self._count = threading.Lock()
        self._clear = threading.Event()  # set while no urgent taker is about
        self._clear.set()
        self._quiet = threading.Event()  # set while no urgent taker is about, none announced
        self._quiet.set()

    @property
    def wanted(self) -> bool:
        """An urgent taker is waiting (or holds the lock), or urgent work is on its way."""
        return self._urgent > 0 or self._coming > 0

    def announce(self, n: int = 1) -> None:
        """Urgent work is on its way (``n`` messages in the alarm lane's inbox, an alarm event
        on its way to the feed's clients): ordinary work steps aside from now on
        (``wait_clear``), not only once an urgent taker asks for the lock; ``done`` ends it.
        Taking the lock itself is not held up by it: the thread that will do the announced work
        may have to take the lock as an ordinary taker first."""
        with self._count:
            self._coming += n
            self._quiet.clear()

    def done(self, n: int = 1) -> None:
        """``n`` announced pieces of urgent work are over."""
        with self._count:
            self._coming = max(0, self._coming - n)
            if not self._urgent and not self._coming:
                self._quiet.set()

    def wait_clear(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s until no urgent taker waits or holds and no urgent work is
        announced; True if none is."""
        return self._quiet.wait(timeout)

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """Hold the lock ahead of ordinary takers: none gets it while an urgent taker waits."""
        with self._count:
            self._urgent += 1
            self._clear.clear()
            self._quiet.clear()
        try:
            with self._lock:
                yield
        finally:
            with self._count:
                self._urgent -= 1
                if not self._urgent:
                    self._clear.set()
                    if not self._coming:
                        self._quiet.set()

    def __enter__(self) -> PriorityLock:
        while True:
            self._clear.wait()
            self._lock.acquire()
            if not self._urgent:
                return self
            self._lock.release()  # an urgent taker came in meanwhile: it goes first

    def __exit__(
        self,
        _t: type[BaseException] | None,
        _e: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self._lock.release()
