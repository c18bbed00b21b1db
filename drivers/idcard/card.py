"""What a read of an ID document yields, and how it is shown with citizen data masked."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from govedge.privacy import mask_id_number, mask_name

SEX_NAMES = {"0": "未知", "1": "男", "2": "女", "9": "未说明"}
LONG_TERM = "长期"


class CardType(StrEnum):
    """The document on the reader, from the type marker in the text block."""

    RESIDENT = "resident"  # 居民身份证
    HK_MO_TW_RESIDENCE = "hk_mo_tw_residence"  # 港澳台居民居住证 (marker 'J')
    FOREIGN_PERMANENT_RESIDENCE = "foreign_permanent_residence"  # 外国人永久居留身份证 ('I')


@dataclass(slots=True)
class IdentityCard:
    """The fields of one document, decoded from its 256-byte text block.

    Dates are ISO ``YYYY-MM-DD`` strings when the card holds a valid date, the raw text otherwise;
    ``valid_to`` may be ``"长期"`` (no expiry). ``id_number_valid`` is the GB 11643 check
    (None for the 15-character foreigner's card number, which GB 11643 does not cover).
    """

    card_type: CardType
    name: str
    sex_code: str
    sex: str
    birth_date: str
    id_number: str
    valid_from: str
    valid_to: str
    nation_code: str = ""
    nation: str = ""
    address: str = ""
    issuer: str = ""
    english_name: str = ""
    chinese_name: str = ""
    nationality: str = ""
    pass_number: str = ""
    issue_count: str = ""
    card_version: str = ""
    issuer_code: str = ""
    id_number_valid: bool | None = None
    photo_raw: bytes = field(default=b"", repr=False)
    fingerprint: bytes = field(default=b"", repr=False)
    photo: bytes | None = field(default=None, repr=False)
    photo_format: str = ""
    photo_error: str = ""

    def expired(self, today: dt.date | None = None) -> bool:
        """True when ``valid_to`` is a date before ``today`` ("长期" never expires)."""
        if self.valid_to == LONG_TERM:
            return False
        try:
            end = dt.date.fromisoformat(self.valid_to)
        except ValueError:
            return False
        # The card's dates are calendar dates of where it is read: today in the local zone.
        return end < (today or dt.datetime.now().astimezone().date())

    def fields(self, reveal: bool = False) -> dict[str, Any]:
        """The text fields as a JSON-ready dict; name and ID number masked unless ``reveal``."""
        out: dict[str, Any] = {
            "name": self.name if reveal else mask_name(self.name),
            "sex": self.sex,
            "nation": self.nation,
            "birth_date": self.birth_date,
            "address": self.address if reveal else _mask_address(self.address),
            "id_number": self.id_number if reveal else mask_id_number(self.id_number),
            "issuer": self.issuer,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "card_type": str(self.card_type),
            "id_number_valid": self.id_number_valid,
            "expired": self.expired(),
        }
        if self.card_type is CardType.FOREIGN_PERMANENT_RESIDENCE:
            out["english_name"] = self.english_name if reveal else mask_name(self.english_name)
            out["nationality"] = self.nationality
            out["card_version"] = self.card_version
            out["issuer_code"] = self.issuer_code
        if self.card_type is CardType.HK_MO_TW_RESIDENCE:
            out["pass_number"] = self.pass_number if reveal else _mask_tail(self.pass_number)
            out["issue_count"] = self.issue_count
        out["photo_format"] = self.photo_format
        out["has_fingerprint"] = bool(self.fingerprint)
        return out

    def as_capability_dict(self) -> dict[str, Any]:
        """Unmasked fields for the errand (drivers.base.CardReaderCapability.read_card)."""
        out = self.fields(reveal=True)
        out["nation_code"] = self.nation_code
        out["sex_code"] = self.sex_code
        if self.photo is not None:
            out["photo"] = self.photo
        if self.fingerprint:
            out["fingerprint"] = self.fingerprint
        if self.photo_error:
            out["photo_error"] = self.photo_error
        return out


def _mask_address(value: str) -> str:
    """Keep the first six characters (province, city), hide the rest."""
    return value[:6] + "*" * max(0, len(value) - 6)


def _mask_tail(value: str) -> str:
    return value[:2] + "*" * max(0, len(value) - 2)
