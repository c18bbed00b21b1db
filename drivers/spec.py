"""What every driver spec is: a frozen, strict msgspec struct of the driver's options.

Each driver package has a ``spec`` module that imports nothing but msgspec (and this module): one
struct holding every option with its default, its range (``Meta(ge=..., le=...)``) and its unit
(in the description), plus the URL schemes the driver opens and the capabilities it serves. The
device config's ``drivers`` entries carry these structs (firmware_configs.schema), and the JSON
Schema generated from them is what the hub checks configs against without importing drivers.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec


class DriverOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The options of one driver kind; an unknown option or a wrong type is refused."""

    KIND: ClassVar[str] = ""
    SCHEMES: ClassVar[tuple[str, ...]] = ()
    """URL forms the driver opens (``serial`` also stands for a bare device path)."""
    CAPABILITIES: ClassVar[tuple[str, ...]] = ()
    """Capability protocols of drivers.base the driver serves beyond polling."""


SERIAL_SCHEMES = ("serial", "socket", "rfc2217", "loop")
"""A local serial device (``/dev/ttyUSB0?baudrate=N`` or ``serial://...``) or a pyserial URL."""
