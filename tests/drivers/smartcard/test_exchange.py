"""The 61xx and 6Cxx rules, checked on the exact bytes the simulated card receives."""

from __future__ import annotations

import pytest

from drivers.smartcard.apdu import CommandApdu, read_record, select_by_fid
from drivers.smartcard.errors import ApduFormatError, CardFileNotFoundError
from drivers.smartcard.exchange import Iso7816Card, transceive
from sim.smartcard.card import CardOptions, SocialSecurityCardModel

SELECT_SSSE = bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")
SELECT_EF06 = bytes.fromhex("00A4020002EF06")
# Record 08 of zhang's card: 08 12 then his 18-character ID number 110105199003070017.
RECORD_08 = bytes.fromhex("0812") + b"110105199003070017"


def prepared(options: CardOptions) -> SocialSecurityCardModel:
    model = SocialSecurityCardModel(options=options)
    for command in (SELECT_SSSE, SELECT_EF06):
        model.process(command)
    model.log.clear()
    return model


def test_get_response_loop_in_one_part() -> None:
    model = prepared(CardOptions(get_response=True))
    response = transceive(model.process, read_record(0x08, by=0x00))
    assert response.data == RECORD_08 and response.sw == 0x9000
    assert model.log == [
        (bytes.fromhex("00B2080000"), bytes.fromhex("6114")),
        (bytes.fromhex("00C0000014"), RECORD_08 + bytes.fromhex("9000")),
    ]


def test_get_response_loop_in_several_parts() -> None:
    model = prepared(CardOptions(get_response=True, chunk=8))
    response = transceive(model.process, read_record(0x08, by=0x00))
    assert response.data == RECORD_08
    assert [(c.hex(), r[-2:].hex()) for c, r in model.log] == [
        ("00b2080000", "6114"),
        ("00c0000014", "610c"),
        ("00c000000c", "6104"),
        ("00c0000004", "9000"),
    ]


def test_wrong_le_resent_with_the_right_one() -> None:
    model = prepared(CardOptions(strict_le=True))
    response = transceive(model.process, read_record(0x08, by=0x00))
    assert response.data == RECORD_08
    assert model.log == [
        (bytes.fromhex("00B2080000"), bytes.fromhex("6C14")),
        (bytes.fromhex("00B2080014"), RECORD_08 + bytes.fromhex("9000")),
    ]


def test_wrong_le_and_get_response_together() -> None:
    model = prepared(CardOptions(get_response=True, strict_le=True, chunk=256))
    response = transceive(model.process, read_record(0x08, by=0x00, le=0x30))
    assert response.data == RECORD_08
    assert [c.hex() for c, _ in model.log] == ["00b2080030", "00c0000014"]


def test_error_status_passed_through_then_raised() -> None:
    model = SocialSecurityCardModel()
    response = transceive(model.process, select_by_fid(0xEF06))
    assert response.sw == 0x6A82  # no application selected yet
    with pytest.raises(CardFileNotFoundError):
        Iso7816Card(model.process).select_file(0xEF06)


def test_endless_61xx_is_bounded() -> None:
    calls: list[bytes] = []

    def stuck_card(apdu: bytes) -> bytes:
        calls.append(apdu)
        return bytes.fromhex("AA6101")

    with pytest.raises(ApduFormatError, match="61xx"):
        transceive(stuck_card, CommandApdu(0, 0xB2, 1, 4, le=256))
    assert len(calls) == 65


def test_endless_6cxx_is_bounded() -> None:
    with pytest.raises(ApduFormatError, match="6Cxx"):
        transceive(lambda _: bytes.fromhex("6C05"), CommandApdu(0, 0xB2, 1, 4, le=256))


def test_logical_channel_kept_in_get_response() -> None:
    seen: list[bytes] = []
    answers = iter([bytes.fromhex("6102"), bytes.fromhex("AABB9000")])

    def card(apdu: bytes) -> bytes:
        seen.append(apdu)
        return next(answers)

    assert transceive(card, CommandApdu(0x01, 0xB2, 1, 4, le=256)).data == b"\xaa\xbb"
    assert seen[1] == bytes.fromhex("01C0000002")
