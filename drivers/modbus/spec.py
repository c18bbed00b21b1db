"""Options of the Modbus RTU sensor driver (dependency-free: msgspec only)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from msgspec import Meta

from drivers.spec import SERIAL_SCHEMES, DriverOptions


class ModbusOptions(DriverOptions, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One sensor, described by a profile, at a unit id on an RS-485 bus."""

    KIND: ClassVar[str] = "modbus"
    SCHEMES: ClassVar[tuple[str, ...]] = SERIAL_SCHEMES
    CAPABILITIES: ClassVar[tuple[str, ...]] = ()

    profile: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=4096,
            description="a shipped profile name (sht20) or the path of a JSON profile",
        ),
    ]
    unit: Annotated[int, Meta(ge=1, le=247, description="Modbus unit id on the bus")] = 1
    timeout: Annotated[float, Meta(gt=0, le=60, description="seconds per answer")] = 1.0
    retries: Annotated[int, Meta(ge=0, le=5, description="extra attempts after a failed read")] = 1
    stuck_after_s: Annotated[
        float,
        Meta(ge=0, le=31 * 86400, description="seconds a value may stay unchanged; 0: never stuck"),
    ] = 1800.0
