"""The simulated printer: its state, its DLE EOT answers, and the receipts it has printed.

Thread-safe: the TCP connections feed it events and a test or an operator changes its state
at the same time. While the paper is out, the cover open or the cutter jammed the printer is
offline: it still answers real-time status requests, and holds everything else until the
cause is cleared, then prints it (as a real printer does with its receive buffer).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sim.printer.page import PageBuilder, SimReceipt
from sim.printer.parser import Event, StatusRequest
from sim.printer.render import render_png


@dataclass(slots=True)
class SimState:
    """What the simulated sensors report."""

    paper_out: bool = False
    paper_near_end: bool = False
    cover_open: bool = False
    cutter_error: bool = False
    drawer_high: bool = False

    @property
    def offline(self) -> bool:
        """Paper out, cover open or a cutter error: status is answered, printing is held."""
        return self.paper_out or self.cover_open or self.cutter_error

    def status_byte(self, n: int) -> int | None:
        """The answer to DLE EOT n (fixed bits 0xx1xx10), None for an n it does not know."""
        base = 0x12
        if n == 1:
            return base | (0x04 if self.drawer_high else 0) | (0x08 if self.offline else 0)
        if n == 2:
            return (
                base
                | (0x04 if self.cover_open else 0)
                | (0x20 if self.paper_out else 0)
                | (0x40 if self.cutter_error else 0)
            )
        if n == 3:
            return base | (0x08 if self.cutter_error else 0)
        if n == 4:
            return base | (0x0C if self.paper_near_end else 0) | (0x60 if self.paper_out else 0)
        return None


class PrinterEngine:
    """One printer: applies events, answers status, keeps receipts and renders their PNGs."""

    def __init__(self, *, paper: int = 80, out_dir: Path | None = None) -> None:
        self.dots = 384 if paper == 58 else 576
        self.out_dir = out_dir
        self.state = SimState()
        self.receipts: list[SimReceipt] = []
        self.counters: dict[str, int] = {"status_requests": 0, "unknown_status": 0, "held": 0}
        self._builder = PageBuilder()
        self._held: list[Event] = []
        self._cond = threading.Condition()

    def handle(self, events: Iterable[Event]) -> bytes:
        """Apply events in order; return the bytes to send back (status answers)."""
        reply = bytearray()
        with self._cond:
            for event in events:
                if isinstance(event, StatusRequest):
                    answer = self.state.status_byte(event.n)
                    if answer is None:
                        self.counters["unknown_status"] += 1
                    else:
                        self.counters["status_requests"] += 1
                        reply.append(answer)
                elif self.state.offline:
                    self._held.append(event)
                    self.counters["held"] += 1
                else:
                    self._apply(event)
        return bytes(reply)

    def set_state(self, **flags: bool) -> SimState:
        """Change sensor flags: paper_out, paper_near_end, cover_open, cutter_error, drawer_high."""
        with self._cond:
            for name, value in flags.items():
                if name not in SimState.__slots__:
                    raise ValueError(f"unknown printer state {name!r}")
                setattr(self.state, name, bool(value))
            if not self.state.offline and self._held:
                held, self._held = self._held, []
                for event in held:
                    self._apply(event)
            return SimState(**asdict(self.state))

    def _apply(self, event: Event) -> None:
        done = self._builder.apply(event)
        if done is None:
            return
        if self.out_dir is not None:
            path = self.out_dir / f"receipt-{done.number:04d}.png"
            done.png = str(render_png(done, path, dots=self.dots))
        self.receipts.append(done)
        self._cond.notify_all()

    def wait_for_receipts(self, count: int, timeout: float = 5.0) -> list[SimReceipt]:
        """Block until ``count`` receipts are done (or the timeout passes); return them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.receipts) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return list(self.receipts)

    def snapshot(self) -> dict[str, Any]:
        """The state, receipt and held-event counts and the counters, as one JSON-ready dict."""
        with self._cond:
            return {
                **asdict(self.state),
                "receipts": len(self.receipts),
                "held_events": len(self._held),
                **self.counters,
            }
