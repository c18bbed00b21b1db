"""The simulated reader on its pty, driven with hand-written golden frames (no driver code)."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Iterator

import pytest

from sim.idcard.server import NOISE, IdCardSimulator, SimConfigError

H = bytes.fromhex


class Wire:
    """The terminal's end of the pty, raw."""

    def __init__(self, path: str) -> None:
        import termios
        import tty

        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        termios.tcflush(self.fd, termios.TCIOFLUSH)

    def ask(self, request: bytes, expect: int, timeout: float = 2.0) -> bytes:
        os.write(self.fd, request)
        return self.read(expect, timeout)

    def read(self, expect: int, timeout: float = 2.0) -> bytes:
        data = b""
        deadline = time.monotonic() + timeout
        while len(data) < expect and time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))
            if ready:
                data += os.read(self.fd, expect - len(data))
        return data

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def sim() -> Iterator[IdCardSimulator]:
    with IdCardSimulator("valid") as simulator:
        yield simulator


@pytest.fixture
def wire(sim: IdCardSimulator) -> Iterator[Wire]:
    end = Wire(sim.url)
    yield end
    end.close()


@pytest.mark.parametrize(
    ("request_hex", "answer_hex"),
    [
        ("AAAAAA9669 0003 10FF EC", "AAAAAA9669 0004 000090 94"),
        ("AAAAAA9669 0003 11FF ED", "AAAAAA9669 0004 000090 94"),
        (
            "AAAAAA9669 0003 12FF EE",
            "AAAAAA9669 0014 000090 050001000F3F340140E20100B168DE3A 1B",
        ),
        ("AAAAAA9669 0003 2001 22", "AAAAAA9669 0008 00009F 00000000 97"),
        # Select before find: the SAM has no card to select.
        ("AAAAAA9669 0003 2002 21", "AAAAAA9669 0004 000081 85"),
        # A request with a bad checksum (should be ED): the SAM answers 0x10.
        ("AAAAAA9669 0003 11FF EE", "AAAAAA9669 0004 000010 14"),
        # An unknown command: 0x21.
        ("AAAAAA9669 0003 99FF 65", "AAAAAA9669 0004 000021 25"),
    ],
)
def test_golden_exchanges(wire: Wire, request_hex: str, answer_hex: str) -> None:
    answer = H(answer_hex)
    assert wire.ask(H(request_hex), len(answer)) == answer


def test_full_card_sequence(wire: Wire) -> None:
    assert wire.ask(H("AAAAAA9669 0003 2001 22"), 15) == H("AAAAAA9669 0008 00009F 00000000 97")
    assert wire.ask(H("AAAAAA9669 0003 2002 21"), 19) == H(
        "AAAAAA9669 000C 000090 0000000000000000 9C"
    )
    answer = wire.ask(H("AAAAAA9669 0003 3001 32"), 1295)
    assert len(answer) == 1295
    assert answer[:14] == H("AAAAAA9669 0508 000090 0100 0400")
    # 测试甲, UCS-2 little-endian, at the start of the text block.
    assert answer[14:20] == H("4B6D D58B 3275")
    assert answer[14 + 256 : 14 + 256 + 8] == b"GVSIMPH1"
    check = 0
    for byte in answer[5:-1]:
        check ^= byte
    assert answer[-1] == check
    assert wire.ask(H("AAAAAA9669 0003 3005 36"), 19) == H(
        "AAAAAA9669 000C 000090 10E4100102030405 79"
    )
    # No extra address on this card: 0x91.
    assert wire.ask(H("AAAAAA9669 0003 3003 30"), 11) == H("AAAAAA9669 0004 000091 95")
    fp = wire.ask(H("AAAAAA9669 0003 3010 23"), 1297)
    assert fp[:16] == H("AAAAAA9669 050A 000090 0100 0400 0000")


def test_request_split_across_writes(wire: Wire) -> None:
    os.write(wire.fd, H("AAAAAA96"))
    time.sleep(0.02)
    assert wire.ask(H("69 0003 11FF ED"), 11) == H("AAAAAA9669 0004 000090 94")


def test_no_card_fault(sim: IdCardSimulator, wire: Wire) -> None:
    sim.set_faults(["no_card"])
    assert wire.ask(H("AAAAAA9669 0003 2001 22"), 11) == H("AAAAAA9669 0004 000080 84")


def test_empty_reader(sim: IdCardSimulator, wire: Wire) -> None:
    sim.insert_card(None)
    assert wire.ask(H("AAAAAA9669 0003 2001 22"), 11) == H("AAAAAA9669 0004 000080 84")
    sim.insert_card("valid")
    assert wire.ask(H("AAAAAA9669 0003 2001 22"), 15)[9] == 0x9F


def _find_select(wire: Wire) -> None:
    wire.ask(H("AAAAAA9669 0003 2001 22"), 15)
    wire.ask(H("AAAAAA9669 0003 2002 21"), 19)


def test_card_removed_fault(sim: IdCardSimulator, wire: Wire) -> None:
    sim.set_faults(["card_removed"])
    _find_select(wire)
    assert wire.ask(H("AAAAAA9669 0003 3001 32"), 11) == H("AAAAAA9669 0004 000041 45")
    assert wire.ask(H("AAAAAA9669 0003 2001 22"), 11) == H("AAAAAA9669 0004 000080 84")


def test_bad_checksum_fault_hits_once(sim: IdCardSimulator, wire: Wire) -> None:
    sim.set_faults(["bad_checksum"])
    _find_select(wire)
    first = wire.ask(H("AAAAAA9669 0003 3001 32"), 1295)
    second = wire.ask(H("AAAAAA9669 0003 3001 32"), 1295)
    assert first[:-1] == second[:-1]
    assert first[-1] == second[-1] ^ 0x5A


def test_torn_frame_fault(sim: IdCardSimulator, wire: Wire) -> None:
    sim.set_faults(["torn_frame"])
    _find_select(wire)
    torn = wire.ask(H("AAAAAA9669 0003 3001 32"), 1295, timeout=0.3)
    assert len(torn) == 1295 // 2
    assert len(wire.ask(H("AAAAAA9669 0003 3001 32"), 1295)) == 1295


def test_noise_fault(sim: IdCardSimulator, wire: Wire) -> None:
    sim.set_faults(["noise"])
    answer = wire.ask(H("AAAAAA9669 0003 11FF ED"), len(NOISE) + 11)
    assert answer == NOISE + H("AAAAAA9669 0004 000090 94")


def test_slow_sam_fault(sim: IdCardSimulator, wire: Wire) -> None:
    sim.set_faults(["slow_sam"], delay=0.2)
    assert wire.ask(H("AAAAAA9669 0003 11FF ED"), 11, timeout=0.05) == b""
    assert wire.read(11, timeout=2.0) == H("AAAAAA9669 0004 000090 94")


@pytest.mark.parametrize(
    ("fault", "answer"), [("sam_fault", "000060 64"), ("sam_unauthorised", "000066 62")]
)
def test_sam_faults(sim: IdCardSimulator, wire: Wire, fault: str, answer: str) -> None:
    sim.set_faults([fault])
    assert wire.ask(H("AAAAAA9669 0003 11FF ED"), 11) == H("AAAAAA9669 0004 " + answer)


def test_status_override(sim: IdCardSimulator, wire: Wire) -> None:
    sim.set_faults(["status:1101:33", "status:11ff:47"])
    assert wire.ask(H("AAAAAA9669 0003 11FF ED"), 11) == H("AAAAAA9669 0004 000047 43")


@pytest.mark.parametrize("bad", ["warp_drive", "status:30:41", "status:3001:zz", "status:3001:1FF"])
def test_bad_fault_names(bad: str) -> None:
    with pytest.raises(SimConfigError):
        IdCardSimulator("valid", [bad])


def test_unknown_card() -> None:
    with pytest.raises(SimConfigError, match="unknown card"):
        IdCardSimulator("nobody")
