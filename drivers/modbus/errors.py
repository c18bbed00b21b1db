"""The Modbus driver's exceptions, each tied to the generic driver error it refines."""

from __future__ import annotations

from drivers.errors import DeviceStatusError, DeviceTimeout, DriverError, FrameError
from govedge.errors import ConfigError
from govedge.health import HealthState


class ModbusError(DriverError):
    """Root of the Modbus driver's errors."""


class ModbusConfigError(ModbusError, ConfigError):
    """A bad profile, unit id or driver option; the message names the file or key."""

    health = HealthState.HARDWARE_ERROR


class ModbusTimeout(ModbusError, DeviceTimeout):
    """The addressed unit did not answer within the timeout."""


class ModbusFrameError(ModbusError, FrameError):
    """An answer was torn, from the wrong unit or function, or otherwise malformed."""


class ModbusCrcError(ModbusFrameError):
    """An answer arrived whose CRC-16 did not match; it was discarded."""


class ModbusExceptionResponse(ModbusError, DeviceStatusError):
    """The unit answered with a Modbus exception (``code`` is the exception code)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message, code, HealthState.HARDWARE_ERROR)
