"""An ESC/POS receipt printer over one transport: status queries and printing."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from drivers.printer import commands as cmd
from drivers.printer.errors import (
    BadStatusByte,
    CoverOpen,
    PaperOut,
    PrinterBusy,
    PrinterFault,
    PrinterTimeout,
    PrinterTransportError,
)
from drivers.printer.receipt import Receipt, parse_receipt
from drivers.printer.render import QrMode, render_receipt
from drivers.printer.status import PrinterStatus, check_status_byte, decode_status
from drivers.printer.transport import open_transport
from drivers.transport import ByteTransport
from govedge.logs import fields, get_logger

log = get_logger(__name__)


class EscposPrinter:
    """A receipt printer at ``url`` (see ``drivers.printer.transport`` for the forms).

    Safe to share between threads (the agent's poller and its local API): status queries and
    prints take turns; a caller that cannot get the printer within ``busy_wait`` seconds gets
    PrinterBusy.
    """

    def __init__(
        self,
        url: str,
        *,
        paper: int = 80,
        qr_mode: QrMode = "native",
        timeout: float = 1.0,
        busy_wait: float = 30.0,
    ) -> None:
        self.url = url
        self.busy_wait = busy_wait
        self._lock = threading.RLock()
        self.paper = paper
        self.qr_mode: QrMode = qr_mode
        self.timeout = timeout
        self._link: ByteTransport | None = None
        self.counters: dict[str, int] = {
            "status_queries": 0,
            "status_timeouts": 0,
            "bad_status_bytes": 0,
            "receipts_printed": 0,
            "receipts_refused": 0,
            "reconnects": 0,
        }

    @contextmanager
    def _turn(self) -> Iterator[None]:
        if not self._lock.acquire(timeout=self.busy_wait):
            raise PrinterBusy(f"printer at {self.url} is busy with another operation")
        try:
            yield
        finally:
            self._lock.release()

    def open(self) -> None:
        """Open the link the URL names; PrinterNotFound if nothing is there, PrinterBusy if another
        operation holds the printer for longer than ``busy_wait``.
        """
        with self._turn():
            if self._link is None:
                self._link = open_transport(self.url, timeout=self.timeout)

    def close(self) -> None:
        """Close the link; waits for a print in progress (at most ``busy_wait``), then closes."""
        held = self._lock.acquire(timeout=self.busy_wait)
        try:
            link, self._link = self._link, None
            if link is not None:
                link.close()
        finally:
            if held:
                self._lock.release()

    def __enter__(self) -> EscposPrinter:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transport(self) -> ByteTransport:
        if self._link is None:
            self.open()
        assert self._link is not None  # noqa: S101 - narrowing: open() sets the link or raises
        return self._link

    def query(self, n: int) -> int:
        """Send DLE EOT n and return the checked answer byte.

        A byte without the status pattern is counted and the question asked once more (it may
        have been a late answer to an earlier one); no answer raises PrinterTimeout.
        """
        with self._turn():
            return self._query(n)

    def _query(self, n: int) -> int:
        link = self._transport()
        for attempt in range(2):
            link.reset_input_buffer()
            link.write(cmd.status_request(n))
            self.counters["status_queries"] += 1
            answer = link.read(1)
            if not answer:
                self.counters["status_timeouts"] += 1
                raise PrinterTimeout(f"printer at {self.url} did not answer DLE EOT {n}")
            try:
                return check_status_byte(answer[0], n)
            except BadStatusByte:
                self.counters["bad_status_bytes"] += 1
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def status(self) -> PrinterStatus:
        """Ask DLE EOT 1-4 and decode the answers; reconnects once if the link dropped."""
        with self._turn():
            try:
                return self._status()
            except PrinterTransportError:
                self.close()
                self.counters["reconnects"] += 1
                self.open()
                return self._status()

    def _status(self) -> PrinterStatus:
        return decode_status(self._query(1), self._query(2), self._query(3), self._query(4))

    def print_receipt(self, receipt: Mapping[str, Any] | Receipt) -> None:
        """Check the printer is ready, then print ``receipt`` (data, see drivers.printer.receipt).

        Raises PaperOut or CoverOpen (a person must act) or PrinterFault (cutter, hardware)
        without sending anything when the printer is not ready.
        """
        parsed = (
            receipt
            if isinstance(receipt, Receipt)
            else parse_receipt(receipt, default_paper=self.paper)
        )
        data = render_receipt(parsed, qr_mode=self.qr_mode)
        with self._turn():
            state = self.status()
            self.refuse_unless_ready(state)
            self._transport().write(data)
            self._transport().flush()
            self.counters["receipts_printed"] += 1
        log.info("receipt_printed", extra=fields(url=self.url, bytes=len(data)))

    def refuse_unless_ready(self, state: PrinterStatus) -> None:
        """Raise the error that says why the printer cannot print now, if it cannot."""
        error: Exception | None = None
        if state.cover_open:
            error = CoverOpen(f"printer at {self.url}: cover open; close the cover")
        elif state.paper_out:
            error = PaperOut(f"printer at {self.url}: paper out; load a paper roll")
        elif state.cutter_error or state.unrecoverable_error:
            what = "autocutter error" if state.cutter_error else "unrecoverable error"
            error = PrinterFault(f"printer at {self.url}: {what}", state.raw[2])
        if error is not None:
            self.counters["receipts_refused"] += 1
            log.debug("receipt_refused", extra=fields(url=self.url, reason=str(error)))
            raise error
