"""Synthetic card holders for the simulator: invented people with well-formed numbers.

Every ID number carries a correct GB 11643 check digit (ISO 7064 MOD 11-2); none is a real
person's. The deck covers a plain card, a card past its expiry date and a long (extended) name.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def gb11643_check_digit(first17: str) -> str:
    """The 18th character of an ID number whose first 17 digits are given."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError(f"need 17 digits, got {first17!r}")
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def id_number(region: str, birth: str, serial: str) -> str:
    """A full 18-character ID number: region (6), birth date YYYYMMDD, serial (3), check."""
    first17 = region + birth + serial
    return first17 + gb11643_check_digit(first17)


@dataclass(frozen=True, slots=True)
class Holder:
    """The values stored on one simulated card, by layout field name."""

    card_id: str
    card_category: str
    spec_version: str
    issuer_code: str
    issue_date: str
    expiry_date: str
    card_number: str
    id_number: str
    name: str
    name_extension: str
    sex: str
    nation: str
    birth_place: str
    birth_date: str

    def values(self) -> dict[str, str]:
        """Field name -> value."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


DECK: dict[str, Holder] = {
    "zhang": Holder(
        card_id="110100D15600000500A1B2C3D4E5F607",
        card_category="3",
        spec_version="3.00",
        issuer_code="D15600000511010000000001",
        issue_date="2021-03-15",
        expiry_date="2031-03-15",
        card_number="A18023456",
        id_number=id_number("110105", "19900307", "001"),
        name="张伟",
        name_extension="",
        sex="1",
        nation="01",
        birth_place="110105",
        birth_date="1990-03-07",
    ),
    "expired": Holder(
        card_id="440300D156000005000F1E2D3C4B5A69",
        card_category="3",
        spec_version="2.00",
        issuer_code="D15600000544030000000002",
        issue_date="2010-06-01",
        expiry_date="2020-06-01",
        card_number="B20417735",
        id_number=id_number("440305", "19751120", "042"),
        name="李秀英",
        name_extension="",
        sex="2",
        nation="03",
        birth_place="440305",
        birth_date="1975-11-20",
    ),
    "long_name": Holder(
        card_id="650100D15600000500778899AABBCCDD",
        card_category="3",
        spec_version="3.00",
        issuer_code="D15600000565010000000003",
        issue_date="2023-01-09",
        expiry_date="2033-01-09",
        card_number="C31200458",
        id_number=id_number("650102", "20010615", "128"),
        name="买买提·艾力·阿不都热合曼",
        name_extension="·吐尔逊",
        sex="1",
        nation="05",
        birth_place="650102",
        birth_date="2001-06-15",
    ),
}
