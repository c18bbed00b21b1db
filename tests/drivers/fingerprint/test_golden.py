"""Golden byte vectors written by hand from the R30x packet description.

Packet: EF 01 | address (4) | packet id | length (2, payload + 2) | payload | checksum (2),
the checksum being the 16-bit sum of packet id, length bytes and payload. Each checksum below
was added up by hand in the comment beside it; none comes from the project's encoder.
"""

from __future__ import annotations

import pytest

from drivers.fingerprint import commands as cmd
from drivers.fingerprint.codec import (
    PID_ACK,
    PID_DATA,
    PID_END_DATA,
    Packet,
    PacketParser,
    decode_packet,
    encode_command,
    encode_data,
    encode_packet,
)
from drivers.fingerprint.module import FingerprintModule


def h(text: str) -> bytes:
    return bytes.fromhex(text)


HEAD = "EF01 FFFFFFFF"

# (name, payload builder result, the whole command packet written by hand)
COMMANDS = [
    # 01 + 0003 + 01 = 5
    ("GenImg", cmd.gen_img(), HEAD + "01 0003 01 0005"),
    # 01 + 0004 + 02 + 01 = 8
    ("Img2Tz 1", cmd.img2tz(1), HEAD + "01 0004 02 01 0008"),
    # 01 + 0004 + 02 + 02 = 9
    ("Img2Tz 2", cmd.img2tz(2), HEAD + "01 0004 02 02 0009"),
    # 01 + 0003 + 03 = 7
    ("Match", cmd.match(), HEAD + "01 0003 03 0007"),
    # 01 + 08 + 04 + 01 + 00 + 00 + 00 + C8 = 0xD6
    ("Search 1 0..200", cmd.search(1, 0, 200), HEAD + "01 0008 04 01 0000 00C8 00D6"),
    # 01 + 03 + 05 = 9
    ("RegModel", cmd.reg_model(), HEAD + "01 0003 05 0009"),
    # 01 + 06 + 06 + 01 + 00 + 05 = 0x13
    ("Store 1 @5", cmd.store(1, 5), HEAD + "01 0006 06 01 0005 0013"),
    # 01 + 06 + 07 + 02 + 01 + 2C = 0x3D
    ("LoadChar 2 @300", cmd.load_char(2, 300), HEAD + "01 0006 07 02 012C 003D"),
    # 01 + 04 + 08 + 01 = 0x0E
    ("UpChar 1", cmd.up_char(1), HEAD + "01 0004 08 01 000E"),
    # 01 + 04 + 09 + 01 = 0x0F
    ("DownChar 1", cmd.down_char(1), HEAD + "01 0004 09 01 000F"),
    # 01 + 07 + 0C + 00 + 09 + 00 + 01 = 0x1E
    ("DeleteChar @9 x1", cmd.delete_char(9, 1), HEAD + "01 0007 0C 0009 0001 001E"),
    # 01 + 03 + 0D = 0x11
    ("Empty", cmd.empty(), HEAD + "01 0003 0D 0011"),
    # 01 + 03 + 0F = 0x13
    ("ReadSysPara", cmd.read_sys_para(), HEAD + "01 0003 0F 0013"),
    # 01 + 07 + 13 + 00 00 00 00 = 0x1B
    ("VfyPwd 0", cmd.vfy_pwd(0), HEAD + "01 0007 13 00000000 001B"),
    # 01 + 07 + 13 + 12 + 34 + 56 + 78 = 0x012F
    ("VfyPwd 12345678", cmd.vfy_pwd(0x12345678), HEAD + "01 0007 13 12345678 012F"),
    # 01 + 03 + 1D = 0x21
    ("TemplateNum", cmd.template_num(), HEAD + "01 0003 1D 0021"),
    # 01 + 08 + 1B + 01 + A3 = 0xC8
    (
        "HighSpeedSearch 1 0..163",
        cmd.high_speed_search(1, 0, 0xA3),
        HEAD + "01 0008 1B 01 0000 00A3 00C8",
    ),
]


@pytest.mark.parametrize(("name", "payload", "wire"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_command_packets(name: str, payload: bytes, wire: str) -> None:
    assert encode_command(payload) == h(wire)
    packet = decode_packet(h(wire))
    assert packet.pid == 0x01 and packet.payload == payload


def test_address_is_outside_the_checksum() -> None:
    # GenImg to module 0x12345678: same checksum as to FFFFFFFF.
    wire = h("EF01 12345678 01 0003 01 0005")
    assert encode_command(cmd.gen_img(), address=0x12345678) == wire
    assert decode_packet(wire) == Packet(0x01, b"\x01", 0x12345678)


# (name, the acknowledge written by hand, confirmation code, results)
ANSWERS = [
    # 07 + 03 + 00 = 0x0A
    ("ok", HEAD + "07 0003 00 000A", 0x00, ""),
    # 07 + 03 + 02 = 0x0C
    ("no finger", HEAD + "07 0003 02 000C", 0x02, ""),
    # 07 + 03 + 08 = 0x12
    ("no match", HEAD + "07 0003 08 0012", 0x08, ""),
    # 07 + 03 + 13 = 0x1D
    ("wrong password", HEAD + "07 0003 13 001D", 0x13, ""),
    # 07 + 05 + 00 + 00 + 03 = 0x0F
    ("TemplateNum 3", HEAD + "07 0005 00 0003 000F", 0x00, "0003"),
    # 07 + 05 + 00 + 00 + 64 = 0x70
    ("Match score 100", HEAD + "07 0005 00 0064 0070", 0x00, "0064"),
    # 07 + 07 + 00 + 00 05 + 01 2C = 0x40
    ("Search found 5 score 300", HEAD + "07 0007 00 0005 012C 0040", 0x00, "0005012C"),
    # 07 + 07 + 09 = 0x17
    ("Search not found", HEAD + "07 0007 09 0000 0000 0017", 0x09, "00000000"),
    # 07 + 13 + 00 + (09 + C8 + 03 + FF*4 + 02 + 06) = 0x04F2
    (
        "ReadSysPara",
        HEAD + "07 0013 00 0000 0009 00C8 0003 FFFFFFFF 0002 0006 04F2",
        0x00,
        "0000 0009 00C8 0003 FFFFFFFF 0002 0006",
    ),
]


@pytest.mark.parametrize(("name", "wire", "code", "results"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_answer_packets(name: str, wire: str, code: int, results: str) -> None:
    packets = PacketParser().feed(h(wire))
    assert len(packets) == 1
    assert packets[0].pid == PID_ACK
    assert packets[0].payload == bytes([code]) + h(results)
    assert encode_packet(PID_ACK, bytes([code]) + h(results)) == h(wire)


def test_sys_para_layout() -> None:
    params = cmd.SystemParameters.decode(h("0000 0009 00C8 0003 FFFFFFFF 0002 0006"))
    assert params.system_id == 9
    assert params.library_size == 200
    assert params.security_level == 3
    assert params.address == 0xFFFFFFFF
    assert params.packet_size == 128
    assert params.baudrate == 57600
    assert not params.busy and not params.password_verified
    assert cmd.SystemParameters.decode(h("0002 0009 03E8 0005 12345678 0003 000C")).as_dict() == {
        "status": 2,
        "system_id": 9,
        "library_size": 1000,
        "security_level": 5,
        "address": 0x12345678,
        "packet_size": 256,
        "baudrate": 115200,
        "busy": False,
        "password_verified": True,
    }


def test_data_packets() -> None:
    # data: 02 + 06 + 01+02+03+04 = 0x12; end: 08 + 04 + AA + BB = 0x0171
    assert encode_data(h("01020304 AABB"), 4) == [
        h(HEAD + "02 0006 01020304 0012"),
        h(HEAD + "08 0004 AABB 0171"),
    ]
    packets = PacketParser().feed(h(HEAD + "02 0006 01020304 0012" + HEAD + "08 0004 AABB 0171"))
    assert [(p.pid, p.payload) for p in packets] == [
        (PID_DATA, h("01020304")),
        (PID_END_DATA, h("AABB")),
    ]


def test_driver_speaks_the_golden_bytes(scripted, fast) -> None:  # type: ignore[no-untyped-def]
    """The driver over a real pty, against a peer that knows only the hand-written bytes."""
    peer = scripted(
        [
            (h(HEAD + "01 0007 13 00000000 001B"), h(HEAD + "07 0003 00 000A")),
            (
                h(HEAD + "01 0003 0F 0013"),
                h(HEAD + "07 0013 00 0000 0009 00C8 0003 FFFFFFFF 0002 0006 04F2"),
            ),
            (h(HEAD + "01 0003 1D 0021"), h(HEAD + "07 0005 00 0003 000F")),
            # verify against 300: LoadChar 2 @300, GenImg, Img2Tz 1, Match -> score 100
            (h(HEAD + "01 0006 07 02 012C 003D"), h(HEAD + "07 0003 00 000A")),
            (h(HEAD + "01 0003 01 0005"), h(HEAD + "07 0003 00 000A")),
            (h(HEAD + "01 0004 02 01 0008"), h(HEAD + "07 0003 00 000A")),
            (h(HEAD + "01 0003 03 0007"), h(HEAD + "07 0005 00 0064 0070")),
            # search: GenImg, Img2Tz 1, Search 1 0..200 -> found 5, score 300
            (h(HEAD + "01 0003 01 0005"), h(HEAD + "07 0003 00 000A")),
            (h(HEAD + "01 0004 02 01 0008"), h(HEAD + "07 0003 00 000A")),
            (h(HEAD + "01 0008 04 01 0000 00C8 00D6"), h(HEAD + "07 0007 00 0005 012C 0040")),
            # delete 9
            (h(HEAD + "01 0007 0C 0009 0001 001E"), h(HEAD + "07 0003 00 000A")),
        ]
    )
    with FingerprintModule(peer.url, fast) as module:
        assert module.parameters.library_size == 200
        assert module.count() == {"count": 3}
        assert module.verify(300) == {"match": True, "score": 100, "id": 300}
        assert module.identify() == {"found": True, "id": 5, "score": 300}
        assert module.delete(9) == {"deleted": 1, "id": 9}
    assert peer.script and bytes(peer.received).startswith(h(HEAD + "01 0007 13 00000000 001B"))


def test_driver_reads_template_data_packets(scripted, fast) -> None:  # type: ignore[no-untyped-def]
    # ReadSysPara reporting 32-byte packets (code 0): 07 + 13 + 09 + C8 + 03 + 3FC + 06 = 0x04F0
    template = bytes(range(40))
    first, second = template[:32], template[32:]
    # data: 02 + 00 + 22 + sum(0..31)=496 -> 0x0214; end: 08 + 0A + sum(32..39)=284 -> 0x012E
    peer = scripted(
        [
            (h(HEAD + "01 0007 13 00000000 001B"), h(HEAD + "07 0003 00 000A")),
            (
                h(HEAD + "01 0003 0F 0013"),
                h(HEAD + "07 0013 00 0000 0009 00C8 0003 FFFFFFFF 0000 0006 04F0"),
            ),
            (h(HEAD + "01 0006 07 01 0007 0016"), h(HEAD + "07 0003 00 000A")),
            (
                h(HEAD + "01 0004 08 01 000E"),
                h(HEAD + "07 0003 00 000A")
                + h(HEAD + "02 0022")
                + first
                + h("0214")
                + h(HEAD + "08 000A")
                + second
                + h("012E"),
            ),
            # write back: DownChar 1, then the host's data packets, then Store 1 @7
            (h(HEAD + "01 0004 09 01 000F"), h(HEAD + "07 0003 00 000A")),
            (h(HEAD + "08 000A") + second + h("012E"), b""),
            # 01 + 06 + 06 + 01 + 07 = 0x15
            (h(HEAD + "01 0006 06 01 0007 0015"), h(HEAD + "07 0003 00 000A")),
        ]
    )
    with FingerprintModule(peer.url, fast) as module:
        assert module.parameters.packet_size == 32
        assert module.read_template(7) == template
        module.write_template(7, template)
    sent = bytes(peer.received)
    assert h(HEAD + "02 0022") + first + h("0214") in sent
