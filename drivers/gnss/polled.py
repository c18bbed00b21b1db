"""``create(url, options)`` for the edge agent: an NMEA 0183 GNSS receiver.

Options: drivers.gnss.spec.GnssOptions (``timeout``). The baud rate goes in the URL
(``/dev/ttyUSB0?baudrate=4800``; default 9600).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drivers.gnss.errors import GnssConfigError
from drivers.gnss.receiver import GnssReceiver
from drivers.gnss.spec import GnssOptions
from drivers.options import options_of


def create(url: str, options: GnssOptions | Mapping[str, Any]) -> GnssReceiver:
    """Build (not open) the driver of the receiver at ``url``."""
    opts = options_of(GnssOptions, options, GnssConfigError)
    return GnssReceiver(url, timeout=opts.timeout)
