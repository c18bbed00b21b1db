"""The ID-card reader's exceptions, each with the health state it leaves the device in.

They all derive from :class:`drivers.errors.DriverError`; the status-code errors also derive from
:class:`drivers.errors.DeviceStatusError` (so ``code`` holds the raw SAM status byte) and from the
generic class that names the recovery (a person must act, the hardware is at fault).
"""

from __future__ import annotations

from drivers.errors import (
    DeviceStatusError,
    DriverError,
    FrameError,
    UserActionError,
)
from govedge.health import HealthState


class IdCardError(DriverError):
    """Root of the ID-card reader's own errors."""


class IdCardFrameError(IdCardError, FrameError):
    """No valid answer frame: torn, bad checksum or bad length, even after the retries."""

    health = HealthState.ONLINE


class IdCardStatusError(IdCardError, DeviceStatusError):
    """The SAM answered with an error status; ``code`` is the status byte (SW3)."""

    health = HealthState.HARDWARE_ERROR

    def __init__(self, message: str, code: int, health: HealthState | None = None) -> None:
        DeviceStatusError.__init__(self, message, code, health)


class SamCommandError(IdCardStatusError):
    """The SAM rejected what the terminal sent (checksum, length, command, permission)."""

    health = HealthState.HARDWARE_ERROR


class SamFaultError(IdCardStatusError):
    """The SAM failed its self-test or is not authorised: the reader needs service."""

    health = HealthState.HARDWARE_ERROR


class CardError(IdCardStatusError, UserActionError):
    """The card on the reader could not be read or authenticated: the citizen must act
    (re-place the card, or present another document)."""

    health = HealthState.USER_ERROR


class NoCardError(CardError):
    """No card found on the reader (status 0x80)."""

    health = HealthState.USER_ERROR


class CardSelectError(CardError):
    """The card was found but could not be selected (status 0x81), usually moved or lifted."""

    health = HealthState.USER_ERROR


class CardAuthenticationError(CardError):
    """Mutual authentication or information verification failed (0x31, 0x32, 0x33)."""

    health = HealthState.USER_ERROR


class CardReadError(CardError):
    """Reading the card failed (0x41, 0x47), typically the card was removed mid-read."""

    health = HealthState.USER_ERROR


class UnknownCardError(CardError):
    """The card type is not recognised (0x40): not a second-generation ID document."""

    health = HealthState.USER_ERROR


class NoFingerprintDataError(IdCardError, UserActionError):
    """The card holds no fingerprint data: fingerprint checks cannot use this card."""

    health = HealthState.ONLINE


class UnknownStatusError(IdCardStatusError):
    """A status byte the protocol does not define."""

    health = HealthState.HARDWARE_ERROR


class PayloadError(IdCardError):
    """An answer passed its checksum but its payload does not have the documented layout."""

    health = HealthState.HARDWARE_ERROR


class PhotoDecodeError(IdCardError):
    """The card photo could not be decoded (no decoder for it, or the decoder failed)."""

    health = HealthState.ONLINE


class DecoderUnavailableError(PhotoDecodeError):
    """The vendor WLT library is not configured or cannot be loaded."""


class SdtapiError(IdCardError):
    """The vendor SDK library (sdtapi) is missing or failed to load."""

    health = HealthState.NO_DEVICE
