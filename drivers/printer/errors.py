"""The printer's exceptions; each also derives from the generic driver error it is a case of."""

from __future__ import annotations

from drivers.errors import (
    BusyError,
    DeviceStatusError,
    DeviceTimeout,
    DriverError,
    FrameError,
    NoDeviceError,
    TransportError,
    UserActionError,
)
from govedge.health import HealthState


class PrinterError(DriverError):
    """Root of the receipt printer's errors."""


class PrinterTransportError(PrinterError, TransportError):
    """The link to the printer failed (socket closed, port vanished)."""


class PrinterNotFound(PrinterError, NoDeviceError):
    """Nothing answers at the printer's URL (connection refused, no such port or USB device)."""


class PrinterTimeout(PrinterError, DeviceTimeout):
    """The printer did not answer a real-time status request."""


class BadStatusByte(PrinterError, FrameError):
    """A status answer did not have the fixed bit pattern 0xx1xx10 of DLE EOT replies."""


class PaperOut(PrinterError, UserActionError):
    """The paper roll is empty: load paper."""


class CoverOpen(PrinterError, UserActionError):
    """The printer cover is open: close it."""


class PrinterFault(PrinterError, DeviceStatusError):
    """The printer reports a fault (cutter error, unrecoverable error)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message, code, HealthState.HARDWARE_ERROR)


class PrinterBusy(PrinterError, BusyError):
    """Another operation (a long print) holds the printer longer than the caller may wait."""


class ReceiptError(PrinterError):
    """The receipt data is invalid (unknown key, wrong type); nothing was printed."""

    health = HealthState.ONLINE
