"""``create(url, options)`` for the edge agent: a Modbus RTU sensor described by a profile.

Options: ``profile`` (required: a shipped profile name such as ``sht20`` or a path to a JSON
profile), ``unit`` (1..247, default 1), ``timeout`` (seconds per answer, default 1.0),
``retries`` (extra attempts after a failed read, default 1), ``stuck_after_s`` (a value
unchanged this long is flagged; default 1800, 0 disables).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drivers.modbus.errors import ModbusConfigError
from drivers.modbus.profiles import load_profile
from drivers.modbus.sensor import ModbusSensor

OPTION_KEYS = ("profile", "unit", "timeout", "retries", "stuck_after_s")


def create(url: str, options: Mapping[str, Any]) -> ModbusSensor:
    """Build (not open) the driver of the sensor at ``unit`` on the bus at ``url``."""
    for key in options:
        if key not in OPTION_KEYS:
            raise ModbusConfigError(
                f"unknown modbus option {key!r}; known: {', '.join(OPTION_KEYS)}"
            )
    profile_name = options.get("profile")
    if not isinstance(profile_name, str) or not profile_name:
        raise ModbusConfigError("modbus option 'profile' is required (e.g. 'sht20')")
    unit = _number(options, "unit", 1, int)
    if not 1 <= unit <= 247:
        raise ModbusConfigError(f"modbus option 'unit' must be 1..247, not {unit}")
    timeout = _number(options, "timeout", 1.0, float)
    if timeout <= 0:
        raise ModbusConfigError("modbus option 'timeout' must be positive")
    retries = _number(options, "retries", 1, int)
    if not 0 <= retries <= 5:
        raise ModbusConfigError("modbus option 'retries' must be 0..5")
    stuck_after = _number(options, "stuck_after_s", 1800.0, float)
    if stuck_after < 0:
        raise ModbusConfigError("modbus option 'stuck_after_s' must be >= 0")
    return ModbusSensor(
        url,
        load_profile(profile_name),
        unit,
        timeout=timeout,
        retries=retries,
        stuck_after_s=stuck_after,
    )


def _number(options: Mapping[str, Any], key: str, default: float, kind: type) -> Any:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ModbusConfigError(f"modbus option {key!r} must be a number, not {value!r}")
    if kind is int and value != int(value):
        raise ModbusConfigError(f"modbus option {key!r} must be an integer, not {value!r}")
    return kind(value)
