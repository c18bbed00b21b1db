"""The exception hierarchy of every driver, with the health state each one implies."""

from __future__ import annotations

from govedge.errors import GovedgeError
from govedge.health import HealthState


class DriverError(GovedgeError):
    """Root of all driver errors. ``health`` is the state the device is in after it."""

    health: HealthState = HealthState.HARDWARE_ERROR


class TransportError(DriverError):
    """The byte transport failed: a port vanished, a socket closed, an I/O error."""

    health = HealthState.OFFLINE


class NoDeviceError(TransportError):
    """Nothing is at the configured URL (no such port, connection refused, no reader)."""

    health = HealthState.NO_DEVICE


class DeviceTimeout(DriverError):
    """The device did not answer in time."""

    health = HealthState.OFFLINE


class FrameError(DriverError):
    """A frame was torn, too long, or failed its checksum; it was discarded and counted."""

    health = HealthState.ONLINE


class DeviceStatusError(DriverError):
    """The device answered with an error status; ``code`` is the raw status."""

    def __init__(self, message: str, code: int, health: HealthState | None = None) -> None:
        super().__init__(message)
        self.code = code
        if health is not None:
            self.health = health


class UserActionError(DriverError):
    """A person must act (put a card on the reader, load paper, close the cover)."""

    health = HealthState.USER_ERROR


class BusyError(DriverError):
    """The device is in use by another operation."""

    health = HealthState.BUSY
