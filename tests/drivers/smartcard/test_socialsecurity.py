"""The social-security application: record bytes written by hand, layout, masking, reading."""

from __future__ import annotations

import json

import pytest

from drivers.smartcard.errors import (
    ApplicationDataError,
    CardFileNotFoundError,
    RequiredFieldMissingError,
    SecurityStatusError,
)
from drivers.smartcard.exchange import Iso7816Card
from drivers.smartcard.socialsecurity import (
    SSC_DF_NAME,
    SocialSecurityCard,
    decode_record,
    encode_record,
    load_layout,
    parse_layout,
    read_card_records,
    read_social_security_card,
)
from sim.smartcard.card import CardOptions, SocialSecurityCardModel
from sim.smartcard.holders import DECK, gb11643_check_digit

LAYOUT = load_layout()
SPECS = {r.field: r for f in LAYOUT.files for r in f.records}

# Each record: identifier, length, value (cn: BCD padded with F; an: ASCII/GBK padded with 00).
RECORD_VECTORS = [
    (
        "id_number",
        "110105199003070017",
        "08 12 31 31 30 31 30 35 31 39 39 30 30 33 30 37 30 30 31 37",
    ),
    ("name", "张伟", "09 1E D5 C5 CE B0" + " 00" * 26),
    ("card_number", "A18023456", "07 09 41 31 38 30 32 33 34 35 36"),
    ("issue_date", "2021-03-15", "05 04 20 21 03 15"),
    ("expiry_date", "2031-03-15", "06 04 20 31 03 15"),
    ("birth_date", "1990-03-07", "0D 04 19 90 03 07"),
    ("nation", "01", "0B 01 01"),
    ("birth_place", "110105", "0C 03 11 01 05"),
    ("sex", "1", "0A 01 31"),
    ("spec_version", "3.00", "03 04 33 2E 30 30"),
    (
        "card_id",
        "110100D15600000500A1B2C3D4E5F607",
        "01 10 11 01 00 D1 56 00 00 05 00 A1 B2 C3 D4 E5 F6 07",
    ),
]


@pytest.mark.parametrize(("field", "value", "wire"), RECORD_VECTORS)
def test_record_golden(field: str, value: str, wire: str) -> None:
    spec = SPECS[field]
    assert decode_record(spec, bytes.fromhex(wire)) == value
    assert encode_record(spec, value) == bytes.fromhex(wire)


def test_odd_cn_padded_with_f() -> None:
    spec = SPECS["nation"]
    assert encode_record(spec, "5") == bytes.fromhex("0B015F")
    assert decode_record(spec, bytes.fromhex("0B015F")) == "5"


@pytest.mark.parametrize(
    ("field", "wire", "message"),
    [
        ("id_number", "09 02 31 31", "identifier 09, expected 08"),
        ("id_number", "08 05 31 31", "says 5 bytes, carries 2"),
        ("id_number", "08", "too short"),
        ("issue_date", "05 04 20 2A 03 15", "not BCD"),
        ("issue_date", "05 04 20 21 FF FF", "not a YYYYMMDD date"),
        ("name", "09 02 FF FF", "not gbk"),
        ("card_number", "07 02 C9 E7", "not an"),
    ],
)
def test_bad_records_rejected(field: str, wire: str, message: str) -> None:
    with pytest.raises(ApplicationDataError, match=message):
        decode_record(SPECS[field], bytes.fromhex(wire))


def test_value_too_long_for_its_field() -> None:
    with pytest.raises(ApplicationDataError, match="longer than"):
        encode_record(SPECS["sex"], "12")


def test_layout_df_name_and_files() -> None:
    assert LAYOUT.df_name == SSC_DF_NAME
    assert [f.fid for f in LAYOUT.files] == [0xEF05, 0xEF06]
    assert LAYOUT.protected_files == (0xEF07, 0xEF08)
    assert LAYOUT.nations["01"] == "汉" and LAYOUT.sex["2"] == "女"


def test_bad_layout_rejected() -> None:
    with pytest.raises(ApplicationDataError, match="bad card layout"):
        parse_layout({"files": []})
    doc = {
        "df_name_hex": "00",
        "files": [
            {
                "fid": "EF05",
                "name": "x",
                "records": [{"id": "01", "field": "a", "label": "a", "format": "zz", "length": 1}],
            }
        ],
    }
    with pytest.raises(ApplicationDataError, match="unknown record format"):
        parse_layout(doc)


def test_layout_from_a_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from importlib import resources

    text = resources.files("drivers.smartcard").joinpath("data/ssc_layout.json").read_text()
    doc = json.loads(text)
    doc["files"] = doc["files"][:1]
    path = tmp_path / "layout.json"
    path.write_text(json.dumps(doc, ensure_ascii=False))
    layout = load_layout(str(path))
    values = read_social_security_card(Iso7816Card(SocialSecurityCardModel().process), layout)
    assert set(values) == {r.field for r in layout.files[0].records}


def test_check_digit() -> None:
    assert gb11643_check_digit("11010519900307001") == "7"
    assert DECK["zhang"].id_number == "110105199003070017"


def test_read_from_the_card_model_masked_and_revealed() -> None:
    model = SocialSecurityCardModel(DECK["zhang"])
    values = read_social_security_card(Iso7816Card(model.process))
    card = SocialSecurityCard(values, LAYOUT)
    masked = card.as_dict()
    assert masked["id_number"] == "110105********0017"
    assert masked["name"] == "张*"
    assert masked["card_number"] == "A******56"
    assert masked["birth_date"] == "1990-**-**"
    assert masked["issue_date"] == "2021-03-15"
    assert (masked["sex_label"], masked["nation_label"]) == ("男", "汉")
    revealed = card.as_dict(reveal=True)
    assert revealed["id_number"] == "110105199003070017" and revealed["name"] == "张伟"
    card.wipe()
    assert card.values == {}


def test_optional_extension_present_and_absent() -> None:
    long_name = read_social_security_card(
        Iso7816Card(SocialSecurityCardModel(DECK["long_name"]).process)
    )
    assert (
        long_name["name"] == "买买提·艾力·阿不都热合曼" and long_name["name_extension"] == "·吐尔逊"
    )
    plain = read_card_records(Iso7816Card(SocialSecurityCardModel(DECK["expired"]).process))
    assert "name_extension" not in plain.values and plain.values["expiry_date"] == "2020-06-01"
    assert plain.missing == ("name_extension",)


# A card without the issue-date record (EF05 record 05): the reader's commands and the card's
# status words, in order. The read goes on past the 6A83 and reads everything else.
GOLDEN_NO_ISSUE_DATE = [
    ("00A404000F7378312E73682EC9E7BBE1B1A3D5CF", "9000"),
    ("00A4020002EF05", "9000"),
    ("00B2010000", "9000"),
    ("00B2020000", "9000"),
    ("00B2030000", "9000"),
    ("00B2040000", "9000"),
    ("00B2050000", "6A83"),
    ("00B2060000", "9000"),
    ("00B2070000", "9000"),
    ("00A4020002EF06", "9000"),
    ("00B2080000", "9000"),
    ("00B2090000", "9000"),
    ("00B24E0000", "6A83"),
    ("00B20A0000", "9000"),
    ("00B20B0000", "9000"),
    ("00B20C0000", "9000"),
    ("00B20D0000", "9000"),
]


def test_card_missing_an_issuer_record_is_read_golden_trace() -> None:
    model = SocialSecurityCardModel(options=CardOptions(omit=frozenset({"issue_date"})))
    records = read_card_records(Iso7816Card(model.process))
    trace = [(c.hex().upper(), r[-2:].hex().upper()) for c, r in model.log]
    assert trace == GOLDEN_NO_ISSUE_DATE
    assert records.missing == ("issue_date", "name_extension")
    assert "issue_date" not in records.values
    assert records.values["id_number"] == DECK["zhang"].id_number
    assert records.values["expiry_date"] and records.values["card_number"]
    shown = SocialSecurityCard(records.values, LAYOUT, missing=records.missing).as_dict()
    assert shown["missing"] == "issue_date,name_extension"


def test_only_a_needed_field_missing_fails_the_read() -> None:
    no_name = SocialSecurityCardModel(options=CardOptions(omit=frozenset({"name"})))
    with pytest.raises(RequiredFieldMissingError, match="name") as caught:
        read_card_records(Iso7816Card(no_name.process))
    assert caught.value.missing == ("name",)
    no_date = SocialSecurityCardModel(options=CardOptions(omit=frozenset({"issue_date"})))
    with pytest.raises(RequiredFieldMissingError, match="issue_date"):
        read_card_records(Iso7816Card(no_date.process), required=("id_number", "issue_date"))


def test_read_over_get_response_and_strict_le() -> None:
    for options in (CardOptions(get_response=True, chunk=5), CardOptions(strict_le=True)):
        values = read_social_security_card(
            Iso7816Card(SocialSecurityCardModel(options=options).process)
        )
        assert values["id_number"] == DECK["zhang"].id_number


def test_protected_file_needs_security() -> None:
    card = Iso7816Card(SocialSecurityCardModel().process)
    card.select_application(SSC_DF_NAME)
    card.select_file(0xEF07)
    with pytest.raises(SecurityStatusError):
        card.read_record(1)


def test_wrong_application_not_found() -> None:
    card = Iso7816Card(SocialSecurityCardModel().process)
    with pytest.raises(CardFileNotFoundError):
        card.select_application(b"1PAY.SYS.DDF01")
