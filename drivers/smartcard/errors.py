"""The exceptions of the smart-card driver: PC/SC failures and ISO 7816-4 status words.

Each class derives from ``SmartcardError`` (the package root) and from the generic driver error
that names its health state, so the agent can tell "no pcscd" from "no card" from "card said no".
"""

from __future__ import annotations

from drivers.errors import (
    DeviceStatusError,
    DeviceTimeout,
    DriverError,
    FrameError,
    NoDeviceError,
    TransportError,
    UserActionError,
)
from govedge.health import HealthState


class SmartcardError(DriverError):
    """Root of every smart-card error."""


class PcscUnavailableError(SmartcardError, NoDeviceError):
    """The PC/SC daemon (pcscd) is not running or its socket cannot be reached."""

    health = HealthState.NO_DEVICE


class ReaderNotFoundError(SmartcardError, NoDeviceError):
    """No reader matches the configured name (or no reader at all)."""

    health = HealthState.NO_DEVICE


class PcscError(SmartcardError, TransportError):
    """Any other PC/SC failure; ``code`` is the SCARD_* return value."""

    health = HealthState.OFFLINE

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class NoCardError(SmartcardError, UserActionError):
    """The reader is there but holds no card: the citizen must insert one."""

    health = HealthState.USER_ERROR


class CardRemovedError(NoCardError):
    """The card left the reader during an exchange."""


class CardTimeoutError(SmartcardError, DeviceTimeout):
    """Waiting for a card to be inserted or removed took longer than the timeout."""

    health = HealthState.OFFLINE


class ApduFormatError(SmartcardError, FrameError):
    """A response APDU was malformed (shorter than its status word), or a command cannot be
    encoded (a field out of range)."""

    health = HealthState.ONLINE


class ApplicationDataError(SmartcardError, FrameError):
    """A record of a card application does not have the layout the application defines."""

    health = HealthState.ONLINE


class RequiredFieldMissingError(ApplicationDataError):
    """The card lacks a record whose field the caller needs (``missing`` names them)."""

    def __init__(self, message: str, missing: tuple[str, ...]) -> None:
        super().__init__(message)
        self.missing = missing


class StatusWordError(SmartcardError, DeviceStatusError):
    """The card answered with an error status word (``sw``, e.g. 0x6A82)."""

    health = HealthState.ONLINE

    def __init__(self, message: str, sw: int) -> None:
        super().__init__(f"{message} (SW {sw:04X})", sw)
        self.sw = sw


class WrongLengthError(StatusWordError):
    """6700, 6Cxx: Lc or Le is wrong."""


class SecurityStatusError(StatusWordError):
    """6982: security status not satisfied (a PIN or key is needed first)."""


class AuthenticationBlockedError(StatusWordError):
    """6983: the authentication method (PIN) is blocked."""


class ConditionsNotSatisfiedError(StatusWordError):
    """6985: conditions of use not satisfied."""


class CommandNotAllowedError(StatusWordError):
    """69xx (others): command not allowed in the current state."""


class CardFileNotFoundError(StatusWordError):
    """6A82: file or application not found."""


class RecordNotFoundError(StatusWordError):
    """6A83: record not found."""


class WrongParametersError(StatusWordError):
    """6A86, 6B00, 6A80, 6A81, 6A84, 6A87, 6A88: wrong P1-P2 or data."""


class InsNotSupportedError(StatusWordError):
    """6D00: instruction code not supported."""


class ClaNotSupportedError(StatusWordError):
    """6E00: class not supported."""


class CardMemoryError(StatusWordError):
    """64xx, 65xx: execution error, memory failure; the card is faulty."""

    health = HealthState.HARDWARE_ERROR


class CardNoDiagnosisError(StatusWordError):
    """6F00 and unknown status words: the card failed without a precise diagnosis."""
