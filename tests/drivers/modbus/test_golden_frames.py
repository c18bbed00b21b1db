"""Golden Modbus RTU frames written by hand from the Modbus specifications.

Sources: "MODBUS Application Protocol Specification V1.1b3" (function 04 Read Input
Registers: request = function, starting address hi/lo, quantity hi/lo; response = function,
byte count, register values hi/lo; exception = function + 0x80, exception code) and
"MODBUS over Serial Line V1.02" (RTU frame = address, PDU, CRC-16 low byte first; CRC
polynomial 0xA001 reflected, preset 0xFFFF; appendix B's worked example).

The CRC bytes below were worked out with the bitwise procedure of the serial-line spec
(section 6.2.2), independently of drivers.modbus.crc's table:

* ``01 04 00 01 00 02``       -> CRC 0x0B20 -> sent ``20 0B``
* ``01 04 04 01 31 02 22``    -> CRC 0xCE2A -> sent ``2A CE``
  (0x0131 = 305 -> 30.5 °C; 0x0222 = 546 -> 54.6 %RH)
* ``01 84 02``                -> CRC 0xC1C2 -> sent ``C2 C1`` (exception 02, illegal address)
"""

from __future__ import annotations

import pytest

from drivers.modbus.crc import crc16_modbus, crc_bytes, crc_ok, with_crc
from drivers.modbus.errors import ModbusCrcError, ModbusExceptionResponse, ModbusFrameError
from drivers.modbus.profiles import load_profile
from drivers.modbus.rtu import (
    build_exception_response,
    build_read_request,
    build_read_response,
    parse_read_request,
    parse_read_response,
)

READ_T_RH = bytes.fromhex("01 04 00 01 00 02 20 0B")
ANSWER_T_RH = bytes.fromhex("01 04 04 01 31 02 22 2A CE")
EXCEPTION_02 = bytes.fromhex("01 84 02 C2 C1")


def _bitwise_crc(data: bytes) -> int:
    """The spec's bit-by-bit procedure: an independent reference for the table-driven CRC."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def test_crc_of_spec_request_frame() -> None:
    assert crc16_modbus(bytes.fromhex("01 04 00 01 00 02")) == 0x0B20
    assert crc_bytes(bytes.fromhex("01 04 00 01 00 02")) == b"\x20\x0b"


def test_crc_matches_hand_worked_values_and_bitwise_reference() -> None:
    for frame in (READ_T_RH, ANSWER_T_RH, EXCEPTION_02):
        assert crc_ok(frame)
        assert _bitwise_crc(frame[:-2]).to_bytes(2, "little") == frame[-2:]
        assert crc16_modbus(frame[:-2]) == _bitwise_crc(frame[:-2])


def test_crc_agrees_with_pymodbus() -> None:
    from pymodbus.framer.rtu import FramerRTU

    for frame in (READ_T_RH, ANSWER_T_RH, EXCEPTION_02):
        assert FramerRTU.compute_CRC(frame[:-2]) == int.from_bytes(frame[-2:], "big")


def test_crc_of_whole_frame_is_zero() -> None:
    # A property of CRC-16/MODBUS: running the CRC over a frame and its CRC leaves 0.
    assert crc16_modbus(READ_T_RH) == 0
    assert crc16_modbus(ANSWER_T_RH) == 0


def test_read_input_registers_request() -> None:
    assert build_read_request(1, 4, 1, 2) == READ_T_RH
    request = parse_read_request(READ_T_RH)
    assert (request.unit, request.function, request.address, request.count) == (1, 4, 1, 2)


def test_pymodbus_builds_the_same_request() -> None:
    from pymodbus.framer.rtu import FramerRTU
    from pymodbus.pdu import DecodePDU
    from pymodbus.pdu.register_message import ReadInputRegistersRequest

    framer = FramerRTU(DecodePDU(False))
    assert framer.buildFrame(ReadInputRegistersRequest(address=1, count=2, dev_id=1)) == READ_T_RH


def test_answer_decodes_to_30_5_and_54_6() -> None:
    registers = parse_read_response(ANSWER_T_RH, unit=1, function=4, count=2)
    assert registers == [0x0131, 0x0222]
    profile = load_profile("sht20")
    (block,) = profile.blocks()
    assert (block.function, block.address, block.count) == (4, 1, 2)
    assert profile.decode_block(block, registers) == {"temperature": 30.5, "humidity": 54.6}


def test_sim_answer_is_the_golden_frame() -> None:
    assert build_read_response(1, 4, [0x0131, 0x0222]) == ANSWER_T_RH


def test_negative_temperature_is_twos_complement() -> None:
    # -12.3 °C = -123 = 0xFF85 in 16-bit two's complement.
    frame = with_crc(bytes.fromhex("01 04 04 FF 85 01 F4"))
    registers = parse_read_response(frame, 1, 4, 2)
    profile = load_profile("sht20")
    assert profile.decode_block(profile.blocks()[0], registers) == {
        "temperature": -12.3,
        "humidity": 50.0,
    }


def test_exception_response() -> None:
    assert build_exception_response(1, 4, 2) == EXCEPTION_02
    with pytest.raises(ModbusExceptionResponse) as info:
        parse_read_response(EXCEPTION_02, 1, 4, 2)
    assert info.value.code == 2
    assert "illegal data address" in str(info.value)


def test_bad_crc_is_a_crc_error() -> None:
    with pytest.raises(ModbusCrcError):
        parse_read_response(ANSWER_T_RH[:-1] + b"\xcf", 1, 4, 2)


def test_torn_and_misaddressed_answers_are_frame_errors() -> None:
    with pytest.raises(ModbusFrameError, match="torn"):
        parse_read_response(ANSWER_T_RH[:5], 1, 4, 2)
    other_unit = with_crc(bytes.fromhex("02 04 04 01 31 02 22"))
    with pytest.raises(ModbusFrameError, match="unit 2"):
        parse_read_response(other_unit, 1, 4, 2)
    with pytest.raises(ModbusFrameError, match="function 4"):
        parse_read_response(ANSWER_T_RH, 1, 3, 2)
    with pytest.raises(ModbusFrameError, match="expected 6"):
        parse_read_response(ANSWER_T_RH, 1, 4, 3)


def test_water_level_32_bit_high_word_first() -> None:
    # 1234 mm = 0x000004D2 -> registers 0000 04D2; -1500 mm = 0xFFFFFA24 -> FFFF FA24.
    profile = load_profile("water_level")
    (block,) = profile.blocks()
    assert profile.decode_block(block, [0x0000, 0x04D2]) == {"water_level_m": 1.234}
    assert profile.decode_block(block, [0xFFFF, 0xFA24]) == {"water_level_m": -1.5}
