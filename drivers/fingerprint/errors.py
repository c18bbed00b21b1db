"""The fingerprint package's exceptions, each with the health state the module is in after it.

Every class derives from :class:`FingerprintError` and from the generic driver error that says
what kind of failure it is (``FrameError``, ``DeviceTimeout``, ``UserActionError``, ...), so that
callers may catch either the package root or the generic kind.
"""

from __future__ import annotations

from drivers.errors import (
    BusyError,
    DeviceStatusError,
    DeviceTimeout,
    DriverError,
    FrameError,
    TransportError,
    UserActionError,
)
from govedge.health import HealthState


class FingerprintError(DriverError):
    """Root of every error raised by drivers.fingerprint."""


class FingerprintTransportError(FingerprintError, TransportError):
    """The serial line failed while talking to the module (port vanished, I/O error)."""


class FingerprintTimeout(FingerprintError, DeviceTimeout):
    """The module did not answer in time."""


class FingerprintFrameError(FingerprintError, FrameError):
    """Answers kept arriving torn or with a bad checksum, even after a retry."""


class FingerprintBusyError(FingerprintError, BusyError):
    """Another operation (a citizen's verification, an enrollment) is using the module."""


class ProtocolError(FingerprintError):
    """The module answered with a packet that makes no sense for the command sent."""

    health = HealthState.HARDWARE_ERROR


class FingerprintStatusError(FingerprintError, DeviceStatusError):
    """The module answered with an error confirmation code.

    ``code`` is the raw confirmation code, ``meaning`` the manual's wording of it and
    ``command`` the name of the command that got it.
    """

    def __init__(self, code: int, meaning: str, command: str) -> None:
        super().__init__(f"{command}: {meaning} (confirmation code 0x{code:02X})", code)
        self.meaning = meaning
        self.command = command


class PacketReceiveError(FingerprintStatusError):
    """The module could not read our packet (0x01) or the data packets after it (0x0E)."""

    health = HealthState.ONLINE


class FingerActionError(FingerprintStatusError, UserActionError):
    """The person at the sensor must act: place, lift or re-place the finger."""

    health = HealthState.USER_ERROR


class NoFingerError(FingerActionError):
    """No finger on the sensor (0x02), or none placed within the wait."""


class FingerNotLiftedError(FingerActionError):
    """An enrollment needs the finger lifted and placed again, and it stayed on the sensor."""


class ImageQualityError(FingerActionError):
    """The image could not be captured or gave too few features (0x03, 0x06, 0x07, 0x15, 0x17)."""


class EnrollMismatchError(FingerActionError):
    """The two captures of an enrollment are not of the same finger (0x0A)."""


class TemplateIdError(FingerprintStatusError):
    """The template id is beyond the module's library (0x0B)."""

    health = HealthState.ONLINE


class TemplateReadError(FingerprintStatusError):
    """No valid template at that id, or reading it failed (0x0C)."""

    health = HealthState.ONLINE


class LibraryStateError(FingerprintStatusError):
    """The library is full, empty, or the finger is enrolled already (0x1F, 0x24, 0x27, ...)."""

    health = HealthState.ONLINE


class RegisterError(FingerprintStatusError):
    """A system-parameter register number or value was refused (0x1A, 0x1B)."""

    health = HealthState.ONLINE


class PasswordError(FingerprintStatusError):
    """The module's handshake password is wrong (0x13) or was not verified (0x21)."""

    health = HealthState.HARDWARE_ERROR


class ModuleFaultError(FingerprintStatusError):
    """The module reports a fault of its own: flash, upload, delete, sensor (0x0D, 0x18, ...)."""

    health = HealthState.HARDWARE_ERROR
