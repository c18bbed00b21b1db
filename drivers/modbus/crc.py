"""CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF), sent low byte first.

Kept apart from pymodbus so that frames can be checked and classified (a CRC error is not a
timeout) and so that tests can hold it against hand-written golden frames.
"""

from __future__ import annotations


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc16_modbus(data: bytes) -> int:
    """The CRC of ``data`` as an integer (its low byte goes on the wire first)."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc


def crc_bytes(data: bytes) -> bytes:
    """The two CRC bytes to append to ``data``, low byte first."""
    return crc16_modbus(data).to_bytes(2, "little")


def with_crc(data: bytes) -> bytes:
    """``data`` followed by its CRC: a complete RTU frame."""
    return data + crc_bytes(data)


def crc_ok(frame: bytes) -> bool:
    """Whether a complete RTU frame (address .. CRC) carries a correct CRC."""
    return len(frame) >= 4 and crc_bytes(frame[:-2]) == frame[-2:]
