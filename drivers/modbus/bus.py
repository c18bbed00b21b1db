"""One RS-485 bus: a pymodbus serial client shared by every sensor on the port, behind a lock.

Sensors on one bus have distinct unit ids and share one serial port; each driver acquires the
bus by URL and releases it on close, and the port closes when the last driver lets go.

pymodbus's synchronous client swallows a bad CRC (its framer hunts for a frame until the
timeout), so the bus keeps the raw bytes each request received and classifies a failed
transaction itself with :mod:`drivers.modbus.rtu`: no bytes is a timeout, bytes with a wrong
CRC a CRC error, anything else a frame error.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from drivers.errors import NoDeviceError, TransportError
from drivers.modbus.errors import (
    ModbusConfigError,
    ModbusExceptionResponse,
    ModbusFrameError,
    ModbusTimeout,
)
from drivers.modbus.rtu import READ_INPUT, exception_name, parse_read_response
from drivers.transport import parse_serial_url

DEFAULT_BAUDRATE = 9600

_pymodbus_log = logging.getLogger("pymodbus.logging")
if _pymodbus_log.level == logging.NOTSET:
    # pymodbus logs every timeout as an error; the driver counts and reports them instead.
    _pymodbus_log.setLevel(logging.CRITICAL)


def _client_class() -> type[Any]:
    from pymodbus.client import ModbusSerialClient

    class CapturingSerialClient(ModbusSerialClient):
        """The pymodbus serial client, keeping what each transaction received."""

        captured: bytearray

        def recv(self, size: int | None) -> bytes:
            data: bytes = super().recv(size)
            self.captured += data
            return data

    return CapturingSerialClient


class ModbusBus:
    """A serial port with a Modbus RTU master on it; ``read`` is safe from many threads."""

    def __init__(self, url: str) -> None:
        port, settings = parse_serial_url(url, baudrate=DEFAULT_BAUDRATE)
        settings.pop("timeout", None)
        unknown = set(settings) - {"baudrate", "bytesize", "parity", "stopbits"}
        if unknown:
            raise ModbusConfigError(f"serial option {sorted(unknown)[0]!r} is not used on a bus")
        self.url = url
        self.port = port
        self.settings = settings
        self._lock = threading.Lock()
        self._client: Any = None
        self.users = 0
        self.units: set[int] = set()

    @property
    def is_open(self) -> bool:
        """True between ``open`` and ``close``."""
        return self._client is not None

    def open(self) -> None:
        """Open the port with a Modbus RTU master; NoDeviceError if the serial device is absent."""
        with self._lock:
            self._open_locked()

    def _open_locked(self) -> None:
        if self._client is not None:
            return
        if "://" not in self.port and not os.path.exists(self.port):
            raise NoDeviceError(f"no serial device at {self.port}")
        client = _client_class()(
            self.port,
            timeout=1.0,
            retries=0,
            reconnect_delay=0,
            **self.settings,
        )
        client.captured = bytearray()
        if not client.connect():
            raise NoDeviceError(
                f"cannot open Modbus bus on {self.port} (in use by another process?)"
            )
        self._client = client

    def close(self) -> None:
        """Close the port; safe to call twice. Sensors call release_bus rather than this."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def read(self, unit: int, function: int, address: int, count: int, timeout: float) -> list[int]:
        """Read ``count`` registers (function 3 or 4) of ``unit``; raise a ModbusError."""
        from pymodbus.exceptions import ConnectionException, ModbusException

        with self._lock:
            self._open_locked()
            client = self._client
            client.comm_params.timeout_connect = timeout
            client.captured.clear()
            try:
                if function == READ_INPUT:
                    answer = client.read_input_registers(address, count=count, slave=unit)
                else:
                    answer = client.read_holding_registers(address, count=count, slave=unit)
            except ConnectionException as exc:
                client.close()
                self._client = None
                raise TransportError(f"Modbus bus on {self.port} lost: {exc}") from None
            except ModbusException:
                raw = bytes(client.captured)
                if not raw:
                    raise ModbusTimeout(
                        f"unit {unit} did not answer within {timeout:g} s on {self.port}"
                    ) from None
                # Raises the precise error (CRC, torn, wrong unit, exception answer).
                parse_read_response(raw, unit, function, count)
                raise ModbusFrameError(
                    f"unusable answer from unit {unit}: {raw.hex(' ')}"
                ) from None
            except OSError as exc:
                client.close()
                self._client = None
                raise TransportError(f"Modbus bus on {self.port}: {exc}") from None
        if answer.isError():
            code = int(getattr(answer, "exception_code", 0))
            raise ModbusExceptionResponse(
                f"unit {unit} answered exception {code} ({exception_name(code)})", code
            )
        registers = list(answer.registers)
        if len(registers) != count:
            raise ModbusFrameError(f"unit {unit} sent {len(registers)} registers, asked {count}")
        return registers


_buses: dict[str, ModbusBus] = {}
_buses_lock = threading.Lock()


def acquire_bus(url: str, unit: int) -> ModbusBus:
    """The shared bus for ``url``'s port, opened, with ``unit`` claimed; release it after.

    Two sensors claiming one unit id on one bus is a configuration error: both would answer
    one request and garble each other on a real RS-485 pair.
    """
    candidate = ModbusBus(url)
    with _buses_lock:
        bus = _buses.get(candidate.port)
        if bus is None:
            bus = _buses[candidate.port] = candidate
        elif bus.settings != candidate.settings:
            raise ModbusConfigError(
                f"bus {candidate.port} is already open with {bus.settings}, "
                f"not {candidate.settings}"
            )
        if unit in bus.units:
            raise ModbusConfigError(f"unit {unit} on {candidate.port} is already in use")
        bus.units.add(unit)
        bus.users += 1
    try:
        bus.open()
    except BaseException:
        release_bus(bus, unit)
        raise
    return bus


def release_bus(bus: ModbusBus, unit: int) -> None:
    """Drop one user of ``bus`` and its unit; the last one closes the port."""
    with _buses_lock:
        bus.units.discard(unit)
        bus.users -= 1
        if bus.users > 0:
            return
        if _buses.get(bus.port) is bus:
            del _buses[bus.port]
    bus.close()
