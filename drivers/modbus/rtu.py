"""Sans-I/O Modbus RTU frames for register reads (function codes 3 and 4).

A frame is ``unit, function, data..., crc lo, crc hi``. The driver uses this module to tell a
CRC error from a torn or misaddressed answer; the simulator uses it to parse requests and
build answers. Everything here turns bytes into values or raises ModbusFrameError/-CrcError.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.modbus.crc import crc_ok, with_crc
from drivers.modbus.errors import ModbusCrcError, ModbusExceptionResponse, ModbusFrameError

READ_HOLDING = 3
READ_INPUT = 4
READ_FUNCTIONS = (READ_HOLDING, READ_INPUT)
MAX_READ_COUNT = 125  # registers per read request (Modbus application protocol, 6.3/6.4)
MAX_FRAME = 256  # an RTU ADU never exceeds 256 bytes

EXCEPTION_NAMES: dict[int, str] = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """A request to read ``count`` registers from ``address`` of ``unit``."""

    unit: int
    function: int
    address: int
    count: int


def exception_name(code: int) -> str:
    """The name of a Modbus exception code."""
    return EXCEPTION_NAMES.get(code, f"exception {code}")


def build_read_request(unit: int, function: int, address: int, count: int) -> bytes:
    """The 8-byte RTU frame reading ``count`` registers from ``address``."""
    if function not in READ_FUNCTIONS:
        raise ValueError(f"not a register read function: {function}")
    if not 1 <= count <= MAX_READ_COUNT or not 0 <= address <= 0xFFFF:
        raise ValueError(f"bad register range {address}+{count}")
    return with_crc(bytes([unit, function]) + address.to_bytes(2, "big") + count.to_bytes(2, "big"))


def parse_read_request(frame: bytes) -> ReadRequest:
    """Parse an 8-byte read request (function 3 or 4), CRC checked."""
    if len(frame) != 8:
        raise ModbusFrameError(f"read request must be 8 bytes, got {len(frame)}")
    if not crc_ok(frame):
        raise ModbusCrcError("bad CRC in request")
    if frame[1] not in READ_FUNCTIONS:
        raise ModbusFrameError(f"not a register read: function {frame[1]}")
    return ReadRequest(
        frame[0], frame[1], int.from_bytes(frame[2:4], "big"), int.from_bytes(frame[4:6], "big")
    )


def build_read_response(unit: int, function: int, registers: list[int]) -> bytes:
    """The answer carrying ``registers`` (each 0..65535, sent high byte first)."""
    data = b"".join(r.to_bytes(2, "big") for r in registers)
    return with_crc(bytes([unit, function, len(data)]) + data)


def build_exception_response(unit: int, function: int, code: int) -> bytes:
    """The exception answer: function with its high bit set, then the exception code."""
    return with_crc(bytes([unit, function | 0x80, code]))


def response_length(head: bytes) -> int | None:
    """Total length of the answer that starts with ``head`` (needs 3 bytes), or None if unknown."""
    if len(head) < 3:
        return None
    function = head[1]
    if function & 0x80:
        return 5
    if function in READ_FUNCTIONS:
        return 5 + head[2]
    return None


def parse_read_response(frame: bytes, unit: int, function: int, count: int) -> list[int]:
    """Check an answer to ``build_read_request(unit, function, _, count)`` and return registers.

    Raises ModbusCrcError, ModbusExceptionResponse (a well-formed exception answer) or
    ModbusFrameError (torn, wrong unit, wrong function, wrong length).
    """
    if len(frame) < 5:
        raise ModbusFrameError(f"torn answer: {len(frame)} bytes")
    expected = response_length(frame)
    if expected is not None and len(frame) >= expected:
        frame_crc_ok = crc_ok(frame[:expected])
    else:
        frame_crc_ok = crc_ok(frame)
    if not frame_crc_ok:
        if expected is not None and len(frame) < expected:
            raise ModbusFrameError(f"torn answer: {len(frame)} of {expected} bytes")
        raise ModbusCrcError(f"bad CRC in answer {frame.hex(' ')}")
    if expected is not None and len(frame) > expected:
        raise ModbusFrameError(f"{len(frame) - expected} stray bytes after answer")
    if frame[0] != unit:
        raise ModbusFrameError(f"answer from unit {frame[0]}, expected {unit}")
    if frame[1] == function | 0x80:
        code = frame[2]
        raise ModbusExceptionResponse(
            f"unit {unit} answered exception {code} ({exception_name(code)})", code
        )
    if frame[1] != function:
        raise ModbusFrameError(f"answer to function {frame[1]}, expected {function}")
    if frame[2] != 2 * count or len(frame) != 5 + 2 * count:
        raise ModbusFrameError(f"answer carries {frame[2]} bytes, expected {2 * count}")
    data = frame[3:-2]
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
