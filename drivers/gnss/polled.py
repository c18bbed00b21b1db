"""``create(url, options)`` for the edge agent: an NMEA 0183 GNSS receiver.

Options: ``timeout`` (seconds without a valid sentence before the receiver counts as
offline, default 3.0). The baud rate goes in the URL (``/dev/ttyUSB0?baudrate=4800``;
default 9600).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drivers.gnss.errors import GnssConfigError
from drivers.gnss.receiver import GnssReceiver

OPTION_KEYS = ("timeout",)


def create(url: str, options: Mapping[str, Any]) -> GnssReceiver:
    """Build (not open) the driver of the receiver at ``url``."""
    for key in options:
        if key not in OPTION_KEYS:
            raise GnssConfigError(f"unknown gnss option {key!r}; known: {', '.join(OPTION_KEYS)}")
    timeout = options.get("timeout", 3.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise GnssConfigError(f"gnss option 'timeout' must be a positive number, not {timeout!r}")
    return GnssReceiver(url, timeout=float(timeout))
