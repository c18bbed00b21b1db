"""The simulated module's logic, bytes in and bytes out, checked against hand-written vectors."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.fingerprint.device import SimulatedModule
from sim.fingerprint.templates import synthetic_template


def h(text: str) -> bytes:
    return bytes.fromhex(text)


HEAD = "EF01 FFFFFFFF"
GEN_IMG = h(HEAD + "01 0003 01 0005")
IMG2TZ_1 = h(HEAD + "01 0004 02 01 0008")
IMG2TZ_2 = h(HEAD + "01 0004 02 02 0009")
REG_MODEL = h(HEAD + "01 0003 05 0009")
MATCH = h(HEAD + "01 0003 03 0007")
TEMPLATE_NUM = h(HEAD + "01 0003 1D 0021")
VFY_PWD_0 = h(HEAD + "01 0007 13 00000000 001B")
ACK_OK = h(HEAD + "07 0003 00 000A")
ACK_NO_FINGER = h(HEAD + "07 0003 02 000C")


def test_gen_img_with_and_without_finger() -> None:
    module = SimulatedModule()
    assert module.receive(GEN_IMG) == [ACK_NO_FINGER]
    module.place_finger("alice")
    assert module.receive(GEN_IMG) == [ACK_OK]


def test_template_num_and_sys_para() -> None:
    module = SimulatedModule()
    module.enroll(0, "a")
    module.enroll(1, "b")
    module.enroll(2, "c")
    # 07 + 05 + 00 + 00 + 03 = 0x0F
    assert module.receive(TEMPLATE_NUM) == [h(HEAD + "07 0005 00 0003 000F")]
    # status 0002 (password verified): 07 + 13 + 02 + 09 + C8 + 03 + 3FC + 02 + 06 = 0x04F4
    assert module.receive(h(HEAD + "01 0003 0F 0013")) == [
        h(HEAD + "07 0013 00 0002 0009 00C8 0003 FFFFFFFF 0002 0006 04F4")
    ]


def test_password() -> None:
    module = SimulatedModule(password=0x12345678)
    # Before the handshake: 0x21, "password must be verified": 07 + 03 + 21 = 0x2B
    assert module.receive(TEMPLATE_NUM) == [h(HEAD + "07 0003 21 002B")]
    # Wrong password: 07 + 03 + 13 = 0x1D
    assert module.receive(VFY_PWD_0) == [h(HEAD + "07 0003 13 001D")]
    assert module.receive(h(HEAD + "01 0007 13 12345678 012F")) == [ACK_OK]
    assert module.receive(TEMPLATE_NUM) == [h(HEAD + "07 0005 00 0000 000C")]


def test_match_and_combine_two_different_fingers() -> None:
    module = SimulatedModule()
    module.place_finger("alice")
    module.receive(GEN_IMG)
    module.receive(IMG2TZ_1)
    module.place_finger("bob")
    module.receive(GEN_IMG)
    module.receive(IMG2TZ_2)
    # 07 + 03 + 08 = 0x12 (no match); 07 + 03 + 0A = 0x14 (cannot combine)
    assert module.receive(MATCH) == [h(HEAD + "07 0003 08 0012")]
    assert module.receive(REG_MODEL) == [h(HEAD + "07 0003 0A 0014")]


def test_img2tz_without_image() -> None:
    # 07 + 03 + 15 = 0x1F: no valid primary image
    assert SimulatedModule().receive(IMG2TZ_1) == [h(HEAD + "07 0003 15 001F")]


def test_tap_mode_lifts_after_each_capture() -> None:
    module = SimulatedModule()
    module.place_finger("alice", tap=True)
    answers = [module.receive(GEN_IMG)[0] for _ in range(4)]
    assert answers == [ACK_OK, ACK_NO_FINGER, ACK_OK, ACK_NO_FINGER]
    module.lift_finger()
    assert module.receive(GEN_IMG) == [ACK_NO_FINGER]


def test_search_and_store() -> None:
    module = SimulatedModule()
    module.place_finger("alice")
    module.receive(GEN_IMG)
    module.receive(IMG2TZ_1)
    # Store 1 at 5: 01 + 06 + 06 + 01 + 05 = 0x13
    assert module.receive(h(HEAD + "01 0006 06 01 0005 0013")) == [ACK_OK]
    assert module.library[5] == synthetic_template("alice")
    answer = module.receive(h(HEAD + "01 0008 04 01 0000 00C8 00D6"))[0]
    assert answer[9:12] == h("00 0005")  # found at page 5
    # Outside the searched range (pages 0..4): 01 + 08 + 04 + 01 + 05 = 0x13 -> not found
    assert module.receive(h(HEAD + "01 0008 04 01 0000 0005 0013")) == [
        h(HEAD + "07 0007 09 0000 0000 0017")
    ]
    # Store at 200, beyond a 200-template library: 01+06+06+01+C8 = 0xD6 -> 0x0B (07+03+0B=0x15)
    assert module.receive(h(HEAD + "01 0006 06 01 00C8 00D6")) == [h(HEAD + "07 0003 0B 0015")]


def test_down_char_then_up_char() -> None:
    module = SimulatedModule(packet_size=32)
    # DownChar 2: 01 + 04 + 09 + 02 = 0x10
    assert module.receive(h(HEAD + "01 0004 09 02 0010")) == [ACK_OK]
    # data 01020304 (02+06+0A = 0x12), end AABB (08+04+AA+BB = 0x171)
    assert module.receive(h(HEAD + "02 0006 01020304 0012")) == []
    assert module.receive(h(HEAD + "08 0004 AABB 0171")) == []
    assert module.buffers[2] == h("01020304AABB")
    # UpChar 2: 01 + 04 + 08 + 02 = 0x0F -> ack, then one end-of-data packet
    assert module.receive(h(HEAD + "01 0004 08 02 000F")) == [
        ACK_OK,
        h(HEAD + "08 0008 01020304AABB 017F"),  # 08 + 08 + 01+02+03+04 + AA+BB = 0x17F
    ]


def test_delete_and_empty() -> None:
    module = SimulatedModule()
    for page in range(3):
        module.enroll(page, f"f{page}")
    # DeleteChar 1, 2 templates: 01 + 07 + 0C + 01 + 02 = 0x17
    assert module.receive(h(HEAD + "01 0007 0C 0001 0002 0017")) == [ACK_OK]
    assert sorted(module.library) == [0]
    assert module.receive(h(HEAD + "01 0003 0D 0011")) == [ACK_OK]
    assert module.library == {}


def test_bad_commands() -> None:
    module = SimulatedModule()
    packet_error = h(HEAD + "07 0003 01 000B")  # 07 + 03 + 01 = 0x0B
    # Unknown instruction 0x50: 01 + 03 + 50 = 0x54
    assert module.receive(h(HEAD + "01 0003 50 0054")) == [packet_error]
    # Img2Tz without its buffer byte
    assert module.receive(h(HEAD + "01 0003 02 0006")) == [packet_error]
    # Img2Tz into buffer 3: 01 + 04 + 02 + 03 = 0x0A
    assert module.receive(h(HEAD + "01 0004 02 03 000A")) == [packet_error]
    # A bad checksum gets no answer at all, nor does another address.
    assert module.receive(GEN_IMG[:-1] + b"\x06") == []
    assert module.receive(h("EF01 12345678 01 0003 01 0005")) == []


def test_faults_spoil_the_next_answers() -> None:
    module = SimulatedModule()
    module.inject("bad_checksum")
    assert module.receive(TEMPLATE_NUM)[0][-1] != h(HEAD + "07 0005 00 0000 000C")[-1]
    module.inject("torn")
    torn = module.receive(TEMPLATE_NUM)
    assert len(torn) == 2 and torn[1].startswith(torn[0]) and len(torn[0]) < len(torn[1])
    module.inject("silent")
    assert module.receive(TEMPLATE_NUM) == []
    module.inject("noise")
    noisy = module.receive(TEMPLATE_NUM)[0]
    assert noisy.endswith(h(HEAD + "07 0005 00 0000 000C")) and not noisy.startswith(b"\xef\x01")
    module.inject("wrong_password")
    assert module.receive(TEMPLATE_NUM) == [h(HEAD + "07 0005 00 0000 000C")]  # waits for VfyPwd
    assert module.receive(VFY_PWD_0) == [h(HEAD + "07 0003 13 001D")]
    assert module.receive(VFY_PWD_0) == [ACK_OK]
    module.force_code(0x1D, 0x18, times=2)
    assert module.receive(TEMPLATE_NUM + TEMPLATE_NUM) == [h(HEAD + "07 0003 18 0022")] * 2
    assert module.receive(TEMPLATE_NUM) == [h(HEAD + "07 0005 00 0000 000C")]


def test_bad_controls() -> None:
    module = SimulatedModule()
    with pytest.raises(ValueError):
        module.inject("lightning")
    with pytest.raises(ValueError):
        module.place_finger("x", "sweaty")
    with pytest.raises(ValueError):
        SimulatedModule(packet_size=100)


@settings(
    max_examples=2_000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_simulator(data: bytes) -> None:
    module = SimulatedModule()
    for chunk in module.receive(data):
        assert chunk.startswith(b"\xef\x01")
