"""The GNSS driver's exceptions."""

from __future__ import annotations

from drivers.errors import DeviceTimeout, DriverError, FrameError
from govedge.errors import ConfigError
from govedge.health import HealthState


class GnssError(DriverError):
    """Root of the GNSS driver's errors."""


class GnssConfigError(GnssError, ConfigError):
    """A bad driver option; the message names the key."""

    health = HealthState.HARDWARE_ERROR


class GnssTimeout(GnssError, DeviceTimeout):
    """No valid sentence arrived from the receiver in time."""


class NmeaError(GnssError, FrameError):
    """A sentence was malformed (bad framing, fields or values); it was discarded and counted."""


class NmeaChecksumError(NmeaError):
    """A sentence's ``*hh`` checksum was missing or did not match."""
