"""``create(url, options)`` for the edge agent: a Modbus RTU sensor described by a profile.

Options: drivers.modbus.spec.ModbusOptions (``profile`` is required; ``unit``, ``timeout``,
``retries`` and ``stuck_after_s`` have defaults).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drivers.modbus.errors import ModbusConfigError
from drivers.modbus.profiles import load_profile
from drivers.modbus.sensor import ModbusSensor
from drivers.modbus.spec import ModbusOptions
from drivers.options import options_of


def create(url: str, options: ModbusOptions | Mapping[str, Any]) -> ModbusSensor:
    """Build (not open) the driver of the sensor at ``unit`` on the bus at ``url``."""
    opts = options_of(ModbusOptions, options, ModbusConfigError)
    return ModbusSensor(
        url,
        load_profile(opts.profile),
        opts.unit,
        timeout=opts.timeout,
        retries=opts.retries,
        stuck_after_s=opts.stuck_after_s,
    )
