"""The bus simulator on the wire, checked with hand-written golden frames over its pty."""

from __future__ import annotations

import os
import select
import termios
import tty
from collections.abc import Iterator

import pytest

from govedge.errors import ConfigError
from sim.modbus import ModbusBusSimulator, SimDevice

READ_T_RH = bytes.fromhex("01 04 00 01 00 02 20 0B")
ANSWER_T_RH = bytes.fromhex("01 04 04 01 31 02 22 2A CE")


@pytest.fixture
def wire() -> Iterator[tuple[ModbusBusSimulator, int]]:
    sim = ModbusBusSimulator([SimDevice(1, "sht20", {"temperature": 30.5, "humidity": 54.6})])
    sim.start()
    fd = os.open(sim.url, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    termios.tcflush(fd, termios.TCIOFLUSH)
    yield sim, fd
    os.close(fd)
    sim.stop()


def _exchange(fd: int, frame: bytes, wait: float = 0.5) -> bytes:
    os.write(fd, frame)
    answer = b""
    while True:
        ready, _, _ = select.select([fd], [], [], wait if not answer else 0.05)
        if not ready:
            return answer
        answer += os.read(fd, 256)


def test_golden_request_gets_golden_answer(wire: tuple[ModbusBusSimulator, int]) -> None:
    _, fd = wire
    assert _exchange(fd, READ_T_RH) == ANSWER_T_RH


def test_request_for_absent_unit_or_bad_crc_gets_silence(
    wire: tuple[ModbusBusSimulator, int],
) -> None:
    sim, fd = wire
    from drivers.modbus.crc import with_crc

    # A well-formed request for unit 2, which is not on this bus.
    assert _exchange(fd, with_crc(bytes.fromhex("02 04 00 01 00 02")), wait=0.15) == b""
    assert _exchange(fd, READ_T_RH[:-1] + b"\x0c", wait=0.15) == b""
    assert sim.stats["not_for_us"] == 1
    assert sim.stats["bad_crc_requests"] == 1
    assert _exchange(fd, READ_T_RH) == ANSWER_T_RH  # still in sync


def test_line_noise_then_a_request(wire: tuple[ModbusBusSimulator, int]) -> None:
    sim, fd = wire
    assert _exchange(fd, b"\x55\xaa\x00", wait=0.15) == b""
    assert _exchange(fd, READ_T_RH) == ANSWER_T_RH
    assert sim.stats["bad_crc_requests"] == 1


def test_unsupported_function_gets_exception_01(wire: tuple[ModbusBusSimulator, int]) -> None:
    _, fd = wire
    # Write single register 0x0001 := 0x0003 on unit 1: 01 06 00 01 00 03 98 0B.
    answer = _exchange(fd, bytes.fromhex("01 06 00 01 00 03 98 0B"))
    assert answer == bytes.fromhex("01 86 01 83 A0")


def test_unmapped_register_gets_exception_02(wire: tuple[ModbusBusSimulator, int]) -> None:
    _, fd = wire
    # Read input register 0 (count 1) of unit 1: 01 04 00 00 00 01 31 CA.
    assert _exchange(fd, bytes.fromhex("01 04 00 00 00 01 31 CA")) == bytes.fromhex(
        "01 84 02 C2 C1"
    )


def test_faults_on_the_wire(wire: tuple[ModbusBusSimulator, int]) -> None:
    sim, fd = wire
    sim.set_fault(1, "bad_crc", count=1)
    bad = _exchange(fd, READ_T_RH)
    assert bad[:-2] == ANSWER_T_RH[:-2] and bad[-2:] != ANSWER_T_RH[-2:]
    sim.set_fault(1, "torn", count=1)
    assert _exchange(fd, READ_T_RH) == ANSWER_T_RH[:4]
    sim.set_fault(1, "exception", code=4, count=1)
    assert _exchange(fd, READ_T_RH) == bytes.fromhex("01 84 04 42 C3")
    sim.set_fault(1, "silent")
    assert _exchange(fd, READ_T_RH, wait=0.15) == b""
    sim.set_fault(1, None)
    assert _exchange(fd, READ_T_RH) == ANSWER_T_RH


def test_silence_window_follows_scenario_time() -> None:
    now = [0.0]
    device = SimDevice(1, "sht20", {"temperature": 1}, silent=[(10.0, 20.0)])
    sim = ModbusBusSimulator([device], clock=lambda: now[0])
    from drivers.modbus.rtu import ReadRequest

    request = ReadRequest(1, 4, 1, 2)
    assert device.answer(request, sim.elapsed()) is not None
    now[0] = 15.0
    assert device.answer(request, sim.elapsed()) is None
    now[0] = 20.0
    assert device.answer(request, sim.elapsed()) is not None


def test_configuration_errors() -> None:
    with pytest.raises(ConfigError, match="unit id 1"):
        ModbusBusSimulator([SimDevice(1, "sht20"), SimDevice(1, "noise")])
    with pytest.raises(ConfigError, match=r"1\.\.247"):
        SimDevice(0, "sht20")
    with pytest.raises(ConfigError, match="no quantity 'pressure'"):
        SimDevice(1, "sht20", {"pressure": 1})
    with pytest.raises(ConfigError, match="no simulated device"):
        ModbusBusSimulator().set_value(3, "temperature", 1)
