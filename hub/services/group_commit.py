"""Group commit: callers that write at the same moment share one transaction.

Each caller hands in its item and waits. Whoever finds no write under way becomes the leader: it
takes every item queued so far, writes them together, and wakes the others; items that arrive
meanwhile form the next group. Nothing waits on a timer, so a lone caller writes at once and a
burst of concurrent callers pays for one transaction (and, for the proof ledger, one update of
the chain's head) instead of one each.

If a group's write fails, its items are written again one by one, so that an item that cannot
be written (a duplicate request, say) fails alone and the others go through.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class _Ticket(Generic[T]):
    __slots__ = ("done", "error", "item")

    def __init__(self, item: T) -> None:
        self.item = item
        self.done = False
        self.error: BaseException | None = None


class GroupCommit(Generic[T]):
    """Runs ``write(items)`` (one transaction) for groups of concurrent ``submit`` calls."""

    def __init__(self, write: Callable[[Sequence[T]], object]) -> None:
        self._write = write
        self._cond = threading.Condition()
        self._queue: list[_Ticket[T]] = []
        self._writing = False
        self.groups = 0  # transactions written (a figure for the tests and the bench)
        self.largest = 0  # the largest group so far

    def submit(self, item: T) -> None:
        """Write ``item`` with whatever else is queued; return once it is committed, or raise
        what its write raised."""
        ticket = _Ticket(item)
        with self._cond:
            self._queue.append(ticket)
            while not ticket.done and self._writing:
                self._cond.wait()
            if ticket.done:
                return self._result(ticket)
            self._writing = True
            group, self._queue = self._queue, []
        try:
            self._run(group)
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()
        return self._result(ticket)

    def _run(self, group: list[_Ticket[T]]) -> None:
        self.groups += 1
        self.largest = max(self.largest, len(group))
        try:
            self._write([t.item for t in group])
        except BaseException as exc:  # noqa: BLE001 - handed to the callers
            if len(group) == 1:
                group[0].error = exc
            else:
                for ticket in group:
                    try:
                        self._write([ticket.item])
                    except BaseException as alone:  # noqa: BLE001 - handed to its own caller
                        ticket.error = alone
        finally:
            for ticket in group:
                ticket.done = True

    @staticmethod
    def _result(ticket: _Ticket[T]) -> None:
        if ticket.error is not None:
            raise ticket.error
