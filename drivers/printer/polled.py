"""The receipt printer as the edge agent drives it: polled status plus ``print_receipt``.

Options: drivers.printer.spec.PrinterOptions (``paper``, ``qr``, ``timeout``).

``poll()`` asks DLE EOT 1-4 and returns ``paper_out``, ``paper_near_end``, ``cover_open`` and
``online`` as 0/1; ``health()`` maps them: paper out or cover open -> user_error, cutter or
unrecoverable error -> hardware_error, no answer -> offline.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drivers.base import HealthReport
from drivers.errors import DriverError, UserActionError
from drivers.options import options_of
from drivers.printer.device import EscposPrinter
from drivers.printer.errors import ReceiptError
from drivers.printer.render import QrMode
from drivers.printer.spec import PrinterOptions
from drivers.printer.status import PrinterStatus
from govedge.health import HealthState


class PolledPrinter:
    """PolledDriver and PrinterCapability for an ESC/POS receipt printer."""

    kind = "printer"

    def __init__(self, url: str, *, paper: int, qr: QrMode, timeout: float) -> None:
        self.printer = EscposPrinter(url, paper=paper, qr_mode=qr, timeout=timeout)
        self._state = HealthState.OFFLINE
        self._detail = "not opened"
        self._errors = 0
        self.last_status: dict[str, str] = {"state": "offline", "detail": "not opened"}

    def open(self) -> None:
        """Open the link; a failure is recorded in the health before it is raised."""
        try:
            self.printer.open()
        except DriverError as exc:
            self._fail(exc)
            raise
        self._state, self._detail = HealthState.ONLINE, ""

    def close(self) -> None:
        """Close the link once a print in progress has ended (waiting at most the printer's
        busy_wait)."""
        self.printer.close()

    def poll(self) -> Mapping[str, float]:
        """Ask DLE EOT 1-4; the 0/1 readings of the module docstring.

        A printer that does not answer raises and its link is closed, so the next poll reconnects.
        """
        try:
            status = self.printer.status()
        except DriverError as exc:
            self._fail(exc)
            self.printer.close()  # the next poll reconnects
            raise
        self._state, self._detail = status.health()
        self._note(status)
        return status.readings()

    def printer_status(self) -> dict[str, str]:
        """Ask the printer now: {"state": ready|paper_out|paper_low|cover_open|offline,
        "detail"}. A printer that does not answer is ``offline``, not an error."""
        try:
            status = self.printer.status()
        except DriverError as exc:
            self._fail(exc)
            self.printer.close()
            return dict(self.last_status)
        self._state, self._detail = status.health()
        self._note(status)
        return dict(self.last_status)

    def _note(self, status: PrinterStatus) -> None:
        state, detail = status.kiosk_state()
        self.last_status = {"state": state, "detail": detail}

    def health(self) -> HealthReport:
        """The state from the last poll, print or status question, with the printer's counters."""
        return HealthReport(self._state, self._detail, self._errors, dict(self.printer.counters))

    def print_receipt(self, receipt: Mapping[str, Any]) -> None:
        """Print ``receipt`` (see drivers.printer.receipt).

        ReceiptError for bad data leaves the health as it was; other errors are recorded in it.
        """
        try:
            self.printer.print_receipt(receipt)
        except ReceiptError:
            raise  # bad data from the caller: the printer's health is unchanged
        except DriverError as exc:
            self._fail(exc)
            raise

    def _fail(self, exc: DriverError) -> None:
        self._errors += 1
        self._state, self._detail = exc.health, str(exc)
        if not isinstance(exc, ReceiptError | UserActionError):
            self.last_status = {"state": "offline", "detail": str(exc)}


def create(url: str, options: PrinterOptions | Mapping[str, Any]) -> PolledPrinter:
    """Build (not open) the printer driver; unknown or bad options raise ConfigError."""
    opts = options_of(PrinterOptions, options)
    return PolledPrinter(url, paper=opts.paper, qr=opts.qr, timeout=opts.timeout)
