"""Command and response APDUs against byte vectors written by hand from ISO/IEC 7816-4."""

from __future__ import annotations

import pytest

from drivers.smartcard.apdu import (
    CommandApdu,
    ResponseApdu,
    get_response,
    read_binary,
    read_record,
    select_by_df_name,
    select_by_fid,
)
from drivers.smartcard.errors import ApduFormatError

# "sx1.sh." in ASCII, then 社会保障 in GBK: 社 C9E7, 会 BBE1, 保 B1A3, 障 D5CF.
SSSE_NAME_HEX = "73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF"


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def test_ssse_name_is_ascii_then_gbk() -> None:
    assert b"sx1.sh." + "社会保障".encode("gbk") == h(SSSE_NAME_HEX)


ENCODE_VECTORS = [
    # case 1: header only
    (CommandApdu(0x00, 0xA4, 0x00, 0x00), "00 A4 00 00"),
    # case 2 short: Le 18, and Le 256 encoded as 00
    (CommandApdu(0x00, 0xB2, 0x08, 0x00, le=0x12), "00 B2 08 00 12"),
    (CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256), "00 B0 00 00 00"),
    # case 3 short: SELECT by DF name, Lc 0F
    (select_by_df_name(h(SSSE_NAME_HEX)), "00 A4 04 00 0F " + SSSE_NAME_HEX),
    # case 4 short: SELECT by DF name asking for the FCI (Le 00 = up to 256)
    (select_by_df_name(h(SSSE_NAME_HEX), le=256), "00 A4 04 00 0F " + SSSE_NAME_HEX + " 00"),
    # SELECT EF06 under the current DF
    (select_by_fid(0xEF06), "00 A4 02 00 02 EF 06"),
    (select_by_fid(0x3F00, p1=0x00), "00 A4 00 00 02 3F 00"),
    # READ RECORD: by record identifier 08 (P2 00), by number 1 (P2 04), SFI 5 number 1 (P2 2C)
    (read_record(0x08, by=0x00), "00 B2 08 00 00"),
    (read_record(1), "00 B2 01 04 00"),
    (read_record(1, sfi=5), "00 B2 01 2C 00"),
    (read_record(3, le=0x14), "00 B2 03 04 14"),
    # READ BINARY at offset 0x0102, Le 16
    (read_binary(0x0102, le=16), "00 B0 01 02 10"),
    # GET RESPONSE for 61 12, and for 61 00 (256 bytes)
    (get_response(0x12), "00 C0 00 00 12"),
    (get_response(256), "00 C0 00 00 00"),
    # case 2 extended: Le 300 -> 00 01 2C; Le 65536 -> 00 00 00
    (CommandApdu(0x00, 0xB0, 0x00, 0x00, le=300), "00 B0 00 00 00 01 2C"),
    (CommandApdu(0x00, 0xB0, 0x00, 0x00, le=65536), "00 B0 00 00 00 00 00"),
]


@pytest.mark.parametrize(("command", "wire"), ENCODE_VECTORS)
def test_command_encoding(command: CommandApdu, wire: str) -> None:
    assert command.encode() == h(wire)


@pytest.mark.parametrize(("command", "wire"), ENCODE_VECTORS)
def test_command_decoding(command: CommandApdu, wire: str) -> None:
    assert CommandApdu.decode(h(wire)) == command


def test_extended_case_3_and_4() -> None:
    data = bytes(range(256))
    case3 = CommandApdu(0x00, 0xD6, 0x00, 0x00, data)
    assert case3.encode() == h("00 D6 00 00 00 01 00") + data
    case4 = CommandApdu(0x00, 0x88, 0x00, 0x00, data, le=65536)
    assert case4.encode() == h("00 88 00 00 00 01 00") + data + h("00 00")
    assert CommandApdu.decode(h("00 88 00 00 00 01 00") + data + h("01 00")).le == 256
    assert (case3.case, case4.case, case4.extended) == (3, 4, True)


def test_cases_numbered() -> None:
    assert [c.case for c, _ in ENCODE_VECTORS[:5]] == [1, 2, 2, 3, 4]


@pytest.mark.parametrize(
    "wire",
    [
        "",
        "00",
        "00 A4 04",
        "00 A4 04 00 0F 73 78",  # Lc 15, two bytes follow
        "00 A4 04 00 02 EF 06 00 00",  # Lc 2 then two bytes too many
        "00 B0 00 00 00 01",  # extended length torn
        "00 D6 00 00 00 00 00 01",  # extended Lc of zero
        "00 D6 00 00 00 00 05 01 02",  # extended Lc 5, two bytes follow
    ],
)
def test_malformed_commands_rejected(wire: str) -> None:
    with pytest.raises(ApduFormatError):
        CommandApdu.decode(h(wire))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cla": 0x100, "ins": 0xA4, "p1": 0, "p2": 0},
        {"cla": 0, "ins": -1, "p1": 0, "p2": 0},
        {"cla": 0, "ins": 0xB0, "p1": 0, "p2": 0, "le": 0},
        {"cla": 0, "ins": 0xB0, "p1": 0, "p2": 0, "le": 65537},
        {"cla": 0, "ins": 0xD6, "p1": 0, "p2": 0, "data": bytes(65536)},
    ],
)
def test_fields_out_of_range(kwargs: dict[str, int]) -> None:
    with pytest.raises(ApduFormatError):
        CommandApdu(**kwargs)  # type: ignore[arg-type]


def test_builders_reject_bad_arguments() -> None:
    with pytest.raises(ApduFormatError):
        read_record(1, sfi=31)
    with pytest.raises(ApduFormatError):
        read_binary(0x8000)


RESPONSE_VECTORS = [
    ("90 00", b"", 0x9000),
    ("6A 82", b"", 0x6A82),
    ("61 12", b"", 0x6112),
    ("08 02 31 32 90 00", h("08 02 31 32"), 0x9000),
]


@pytest.mark.parametrize(("wire", "data", "sw"), RESPONSE_VECTORS)
def test_response_decoding(wire: str, data: bytes, sw: int) -> None:
    response = ResponseApdu.decode(h(wire))
    assert (response.data, response.sw) == (data, sw)
    assert response.sw1 == sw >> 8 and response.sw2 == sw & 0xFF
    assert response.ok == (sw == 0x9000)
    assert response.encode() == h(wire)


@pytest.mark.parametrize("wire", ["", "90"])
def test_response_without_status_word_rejected(wire: str) -> None:
    with pytest.raises(ApduFormatError, match="status word"):
        ResponseApdu.decode(h(wire))


def test_response_from_status() -> None:
    assert ResponseApdu.status(0x6C14).encode() == h("6C 14")
