"""Base-information answers built by hand from the documented layouts (UCS-2 LE, fixed widths).

The text blocks are assembled field by field here with the field widths written out, not with
the project's encoder; the frame headers are hex literals.
"""

from __future__ import annotations

from functools import reduce

import pytest

from drivers.idcard.card import CardType
from drivers.idcard.codec import FrameParser, Response
from drivers.idcard.errors import PayloadError
from drivers.idcard.layout import (
    card_type_of,
    encode_text,
    parse_base_info,
    parse_extra_address,
    parse_text,
    split_base_info,
)

H = bytes.fromhex


def u(text: str, chars: int) -> bytes:
    """One field: ``chars`` UCS-2 little-endian characters, space padded."""
    assert len(text) <= chars
    return text.ljust(chars).encode("utf-16-le")


def xor(data: bytes) -> int:
    return reduce(lambda a, b: a ^ b, data, 0)


# 测试甲 is U+6D4B U+8BD5 U+7532, stored low byte first.
NAME_FIELD = H("4B6D D58B 3275") + H("2000") * 12

RESIDENT_TEXT = (
    NAME_FIELD  # name, 15 characters
    + u("1", 1)  # sex code
    + u("01", 2)  # nation code
    + u("19900307", 8)  # birth date
    + u("北京市东城区示例大街1号", 35)  # address
    + u("110101199003071233", 18)  # ID number
    + u("北京市公安局东城分局", 15)  # issuing authority
    + u("20200101", 8)  # valid from
    + u("长期", 8)  # valid to
    + u("", 18)  # reserved
)

HK_TEXT = (
    u("测试戊", 15)
    + u("1", 1)
    + u("", 2)  # reserved
    + u("19880808", 8)
    + u("广东省深圳市福田区示例道18号", 35)
    + u("810000198808080155", 18)
    + u("深圳市公安局福田分局", 15)
    + u("20190101", 8)
    + u("20240101", 8)
    + u("H12345678", 9)  # pass number
    + u("01", 2)  # issue count
    + u("", 3)
    + u("J", 1)  # card type marker, character 124
    + u("", 3)
)

FOREIGN_TEXT = (
    u("TESTER, JANE SAMPLE", 60)  # English name
    + u("2", 1)
    + u("USA110080808001", 15)  # permanent residence card number
    + u("USA", 3)  # nationality
    + u("简测试", 15)  # Chinese name
    + u("20180101", 8)
    + u("20280101", 8)
    + u("19800808", 8)
    + u("01", 2)  # card version
    + u("1500", 4)  # issuing authority code
    + u("I", 1)  # card type marker
    + u("", 3)
)

PHOTO = b"WLf" + bytes(1021)


def base_info_frame(text: bytes, photo: bytes, fingerprint: bytes | None = None) -> bytes:
    if fingerprint is None:
        head = H("0508 000090 0100 0400")
        body = head + text + photo
    elif len(fingerprint) == 1024:
        head = H("090A 000090 0100 0400 0400")
        body = head + text + photo + fingerprint
    else:
        assert fingerprint == b""
        head = H("050A 000090 0100 0400 0000")
        body = head + text + photo
    return H("AAAAAA9669") + body + bytes([xor(body)])


def test_text_blocks_are_256_bytes() -> None:
    assert len(RESIDENT_TEXT) == len(HK_TEXT) == len(FOREIGN_TEXT) == 256
    assert HK_TEXT[248:250] == b"J\x00"
    assert FOREIGN_TEXT[248:250] == b"I\x00"


def test_resident_card_answer() -> None:
    frame = base_info_frame(RESIDENT_TEXT, PHOTO)
    assert len(frame) == 1295  # the documented size of a text+photo answer
    (body,) = FrameParser().feed(frame)
    response = Response.decode(body)
    assert response.sw3 == 0x90
    card = parse_base_info(response.data)
    assert card.card_type is CardType.RESIDENT
    assert card.name == "测试甲"
    assert (card.sex_code, card.sex) == ("1", "男")
    assert (card.nation_code, card.nation) == ("01", "汉")
    assert card.birth_date == "1990-03-07"
    assert card.address == "北京市东城区示例大街1号"
    assert card.id_number == "110101199003071233"
    assert card.id_number_valid is True
    assert card.issuer == "北京市公安局东城分局"
    assert card.valid_from == "2020-01-01"
    assert card.valid_to == "长期"
    assert card.expired() is False
    assert card.photo_raw == PHOTO
    assert card.fingerprint == b""


def test_hk_mo_tw_residence_card() -> None:
    card = parse_base_info(
        Response.decode(FrameParser().feed(base_info_frame(HK_TEXT, PHOTO))[0]).data
    )
    assert card.card_type is CardType.HK_MO_TW_RESIDENCE
    assert card.name == "测试戊"
    assert card.pass_number == "H12345678"
    assert card.issue_count == "01"
    assert card.id_number == "810000198808080155"
    assert card.nation == ""  # not on this card
    assert card.valid_to == "2024-01-01"


def test_foreigner_permanent_residence_card() -> None:
    card = parse_text(FOREIGN_TEXT)
    assert card.card_type is CardType.FOREIGN_PERMANENT_RESIDENCE
    assert card.english_name == "TESTER, JANE SAMPLE"
    assert card.chinese_name == "简测试"
    assert card.name == "简测试"
    assert (card.sex_code, card.sex) == ("2", "女")
    assert card.id_number == "USA110080808001"
    assert card.nationality == "USA"
    assert card.birth_date == "1980-08-08"
    assert card.valid_from == "2018-01-01"
    assert card.valid_to == "2028-01-01"
    assert card.card_version == "01"
    assert card.issuer_code == "1500"
    assert card.id_number_valid is None


def test_foreigner_without_chinese_name_uses_english_name() -> None:
    text = bytearray(FOREIGN_TEXT)
    text[2 * 79 : 2 * 94] = u("", 15)
    assert parse_text(bytes(text)).name == "TESTER, JANE SAMPLE"


def test_answer_with_fingerprint_data() -> None:
    fp = bytes(range(256)) * 4
    frame = base_info_frame(RESIDENT_TEXT, PHOTO, fp)
    assert len(frame) == 2321  # the documented size with two fingerprint templates
    card = parse_base_info(Response.decode(FrameParser().feed(frame)[0]).data)
    assert card.fingerprint == fp
    assert card.name == "测试甲"


def test_answer_with_empty_fingerprint_field() -> None:
    frame = base_info_frame(RESIDENT_TEXT, PHOTO, b"")
    assert len(frame) == 1297  # documented: a card without fingerprints, asked with 30 10
    card = parse_base_info(Response.decode(FrameParser().feed(frame)[0]).data)
    assert card.fingerprint == b""
    assert card.photo_raw == PHOTO


def test_encoder_matches_hand_built_blocks() -> None:
    values = {
        "name": "测试甲",
        "sex_code": "1",
        "nation_code": "01",
        "birth_date": "19900307",
        "address": "北京市东城区示例大街1号",
        "id_number": "110101199003071233",
        "issuer": "北京市公安局东城分局",
        "valid_from": "20200101",
        "valid_to": "长期",
    }
    assert encode_text(CardType.RESIDENT, values) == RESIDENT_TEXT


def test_bad_lengths_are_payload_errors() -> None:
    with pytest.raises(PayloadError, match="no length fields"):
        split_base_info(b"\x01")
    with pytest.raises(PayloadError, match="do not add up"):
        split_base_info(H("0100 0400") + bytes(100))
    with pytest.raises(PayloadError, match="text block of 10 bytes"):
        parse_base_info(H("000A 0000") + bytes(10))


def test_unknown_type_marker() -> None:
    text = bytearray(RESIDENT_TEXT)
    text[248:250] = u("Y", 1)
    with pytest.raises(PayloadError, match="'Y'"):
        card_type_of(bytes(text))


def test_unparseable_dates_are_kept_raw() -> None:
    text = bytearray(RESIDENT_TEXT)
    text[2 * 18 : 2 * 26] = u("19901399", 8)
    assert parse_text(bytes(text)).birth_date == "19901399"


def test_extra_address() -> None:
    data = u("北京市西城区示例新街5号", 35)
    assert parse_extra_address(data) == ["北京市西城区示例新街5号"]
    assert parse_extra_address(data + u("", 35)) == ["北京市西城区示例新街5号"]
    with pytest.raises(PayloadError):
        parse_extra_address(b"\x00" * 71)


def test_masked_fields() -> None:
    card = parse_text(RESIDENT_TEXT)
    masked = card.fields()
    assert masked["name"] == "测**"
    assert masked["id_number"] == "110101********1233"
    assert "示例" not in masked["address"]
    revealed = card.fields(reveal=True)
    assert revealed["name"] == "测试甲"
    assert revealed["id_number"] == "110101199003071233"
