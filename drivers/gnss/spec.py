"""Options of the NMEA 0183 GNSS receiver driver (dependency-free: msgspec only)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from msgspec import Meta

from drivers.spec import SERIAL_SCHEMES, DriverOptions


class GnssOptions(DriverOptions, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A receiver on a serial line; its baud rate goes in the URL (default 9600)."""

    KIND: ClassVar[str] = "gnss"
    SCHEMES: ClassVar[tuple[str, ...]] = SERIAL_SCHEMES
    CAPABILITIES: ClassVar[tuple[str, ...]] = ()

    timeout: Annotated[
        float,
        Meta(gt=0, le=3600, description="seconds without a valid sentence before it is offline"),
    ] = 3.0
