"""The RTU codec on random bytes: only Modbus errors, never a crash; CRC catches corruption."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.modbus.crc import crc16_modbus, crc_ok, with_crc
from drivers.modbus.errors import ModbusCrcError, ModbusError
from drivers.modbus.rtu import build_read_response, parse_read_request, parse_read_response


@settings(deadline=None, max_examples=400)
@given(st.binary(max_size=260), st.integers(1, 247), st.sampled_from([3, 4]), st.integers(1, 125))
def test_random_answers_only_raise_modbus_errors(
    data: bytes, unit: int, function: int, count: int
) -> None:
    try:
        registers = parse_read_response(data, unit, function, count)
    except ModbusError:
        return
    assert len(registers) == count
    assert crc_ok(data)


@settings(deadline=None, max_examples=300)
@given(st.binary(max_size=16))
def test_random_requests_only_raise_modbus_errors(data: bytes) -> None:
    try:
        request = parse_read_request(data)
    except ModbusError:
        return
    assert request.function in (3, 4)


@settings(deadline=None, max_examples=300)
@given(
    st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=20),
    st.data(),
)
def test_any_single_byte_corruption_is_caught(registers: list[int], data: st.DataObject) -> None:
    frame = build_read_response(1, 4, registers)
    index = data.draw(st.integers(0, len(frame) - 1))
    flip = data.draw(st.integers(1, 255))
    corrupted = bytearray(frame)
    corrupted[index] ^= flip
    assert not crc_ok(bytes(corrupted))
    if index >= 3:  # header intact: the parser names it a CRC error
        try:
            parse_read_response(bytes(corrupted), 1, 4, len(registers))
        except ModbusCrcError:
            pass
        else:
            raise AssertionError("corruption not detected")


@settings(deadline=None, max_examples=200)
@given(st.binary(max_size=64))
def test_crc_residue_is_zero(data: bytes) -> None:
    assert crc16_modbus(with_crc(data)) == 0
