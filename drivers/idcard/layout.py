"""The base-information payload of ``30 01`` / ``30 10`` answers, and its 256-byte text block.

Payload (after SW1 SW2 SW3)::

    TEXT_LEN(2, BE) PHOTO_LEN(2, BE) [FP_LEN(2, BE)] TEXT PHOTO [FP]

``FP_LEN`` is present in the answer to ``30 10`` (base info with fingerprints). The text block is
UCS-2 little-endian, fixed-width fields padded with spaces. Character 124 (byte 248) is the card
type marker: ``'J'`` for the 港澳台 residence card, ``'I'`` for the foreigner's permanent
residence card, a space for the resident ID card. Each type has its own layout (below, in
characters). The encoder exists for the simulator; the driver only decodes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from drivers.idcard.card import LONG_TERM, SEX_NAMES, CardType, IdentityCard
from drivers.idcard.errors import PayloadError
from drivers.idcard.idnumber import is_valid
from drivers.idcard.nations import nation_name

TEXT_SIZE = 256
PHOTO_SIZE = 1024
TYPE_MARKER_OFFSET = 248

Layout = tuple[tuple[str, int], ...]

RESIDENT_LAYOUT: Layout = (
    ("name", 15),
    ("sex_code", 1),
    ("nation_code", 2),
    ("birth_date", 8),
    ("address", 35),
    ("id_number", 18),
    ("issuer", 15),
    ("valid_from", 8),
    ("valid_to", 8),
    ("reserved", 18),
)

HK_MO_TW_LAYOUT: Layout = (
    ("name", 15),
    ("sex_code", 1),
    ("reserved1", 2),
    ("birth_date", 8),
    ("address", 35),
    ("id_number", 18),
    ("issuer", 15),
    ("valid_from", 8),
    ("valid_to", 8),
    ("pass_number", 9),
    ("issue_count", 2),
    ("reserved2", 3),
    ("card_type", 1),
    ("reserved3", 3),
)

FOREIGN_LAYOUT: Layout = (
    ("english_name", 60),
    ("sex_code", 1),
    ("id_number", 15),
    ("nationality", 3),
    ("chinese_name", 15),
    ("valid_from", 8),
    ("valid_to", 8),
    ("birth_date", 8),
    ("card_version", 2),
    ("issuer_code", 4),
    ("card_type", 1),
    ("reserved", 3),
)

LAYOUTS: dict[CardType, Layout] = {
    CardType.RESIDENT: RESIDENT_LAYOUT,
    CardType.HK_MO_TW_RESIDENCE: HK_MO_TW_LAYOUT,
    CardType.FOREIGN_PERMANENT_RESIDENCE: FOREIGN_LAYOUT,
}
MARKERS = {"J": CardType.HK_MO_TW_RESIDENCE, "I": CardType.FOREIGN_PERMANENT_RESIDENCE}
MARKER_OF = {card_type: marker for marker, card_type in MARKERS.items()}


@dataclass(frozen=True, slots=True)
class BaseInfo:
    """The three parts of a base-information payload, still encoded."""

    text: bytes
    photo: bytes
    fingerprint: bytes = b""


def split_base_info(data: bytes) -> BaseInfo:
    """Split a ``30 01`` or ``30 10`` payload by its length fields (with or without FP_LEN)."""
    if len(data) < 4:
        raise PayloadError(f"base info of {len(data)} bytes has no length fields")
    text_len = int.from_bytes(data[0:2], "big")
    photo_len = int.from_bytes(data[2:4], "big")
    if 4 + text_len + photo_len == len(data):
        start = 4
        fp_len = 0
    elif len(data) >= 6 and 6 + text_len + photo_len + int.from_bytes(data[4:6], "big") == len(
        data
    ):
        start = 6
        fp_len = int.from_bytes(data[4:6], "big")
    else:
        raise PayloadError(
            f"base info lengths (text {text_len}, photo {photo_len}) do not add up to "
            f"the {len(data)} bytes received"
        )
    text = data[start : start + text_len]
    photo = data[start + text_len : start + text_len + photo_len]
    fingerprint = data[start + text_len + photo_len : start + text_len + photo_len + fp_len]
    return BaseInfo(bytes(text), bytes(photo), bytes(fingerprint))


def card_type_of(text: bytes) -> CardType:
    """The document type from the marker at byte 248 of the text block."""
    if len(text) != TEXT_SIZE:
        raise PayloadError(f"text block of {len(text)} bytes, expected {TEXT_SIZE}")
    marker = _decode(text[TYPE_MARKER_OFFSET : TYPE_MARKER_OFFSET + 2])
    if marker in MARKERS:
        return MARKERS[marker]
    if marker.strip() == "":
        return CardType.RESIDENT
    raise PayloadError(f"unsupported document type marker {marker!r} in the text block")


def split_text(text: bytes, layout: Layout) -> dict[str, str]:
    """Cut a text block into its fields, decoded and stripped of padding."""
    out: dict[str, str] = {}
    offset = 0
    for name, chars in layout:
        out[name] = _decode(text[offset : offset + 2 * chars]).strip()
        offset += 2 * chars
    return out


def parse_text(text: bytes) -> IdentityCard:
    """Decode a 256-byte text block into an IdentityCard (without photo)."""
    card_type = card_type_of(text)
    raw = split_text(text, LAYOUTS[card_type])
    sex_code = raw["sex_code"]
    foreign = card_type is CardType.FOREIGN_PERMANENT_RESIDENCE
    card = IdentityCard(
        card_type=card_type,
        name=(raw["chinese_name"] or raw["english_name"]) if foreign else raw["name"],
        sex_code=sex_code,
        sex=SEX_NAMES.get(sex_code, sex_code),
        birth_date=_date(raw["birth_date"]),
        id_number=raw["id_number"],
        valid_from=_date(raw["valid_from"]),
        valid_to=_date(raw["valid_to"]),
        # GB 11643 does not cover the 15-character foreigner's card number.
        id_number_valid=None if foreign else is_valid(raw["id_number"]),
    )
    if foreign:
        card.english_name = raw["english_name"]
        card.chinese_name = raw["chinese_name"]
        card.nationality = raw["nationality"]
        card.card_version = raw["card_version"]
        card.issuer_code = raw["issuer_code"]
        card.issuer = raw["issuer_code"]
        return card
    card.address = raw["address"]
    card.issuer = raw["issuer"]
    if card_type is CardType.HK_MO_TW_RESIDENCE:
        card.pass_number = raw["pass_number"]
        card.issue_count = raw["issue_count"]
    else:
        card.nation_code = raw["nation_code"]
        card.nation = nation_name(raw["nation_code"])
    return card


def parse_base_info(data: bytes) -> IdentityCard:
    """Decode a whole base-information payload; the photo stays raw (see drivers.idcard.photo)."""
    parts = split_base_info(data)
    card = parse_text(parts.text)
    card.photo_raw = parts.photo
    card.fingerprint = parts.fingerprint
    return card


def parse_extra_address(data: bytes) -> list[str]:
    """The ``30 03`` payload: one or more 70-byte (35-character) address lines."""
    if len(data) % 70:
        raise PayloadError(f"extra address of {len(data)} bytes is not a multiple of 70")
    lines = [_decode(data[i : i + 70]).strip() for i in range(0, len(data), 70)]
    return [line for line in lines if line]


def encode_text(card_type: CardType, values: Mapping[str, str]) -> bytes:
    """Build a 256-byte text block from field values (missing fields are spaces)."""
    layout = LAYOUTS[card_type]
    parts: list[bytes] = []
    for name, chars in layout:
        value = MARKER_OF[card_type] if name == "card_type" else values.get(name, "")
        if len(value) > chars:
            raise ValueError(f"{name} {value!r} is longer than {chars} characters")
        parts.append(value.ljust(chars).encode("utf-16-le"))
    text = b"".join(parts)
    assert len(text) == TEXT_SIZE, len(text)  # noqa: S101 - invariant: the fields' widths add up to TEXT_SIZE
    return text


def encode_base_info(text: bytes, photo: bytes, fingerprint: bytes | None = None) -> bytes:
    """Build the payload of a ``30 01`` answer, or of ``30 10`` when ``fingerprint`` is given."""
    head = len(text).to_bytes(2, "big") + len(photo).to_bytes(2, "big")
    if fingerprint is None:
        return head + text + photo
    return head + len(fingerprint).to_bytes(2, "big") + text + photo + fingerprint


def encode_extra_address(lines: list[str]) -> bytes:
    """The extra-address field's bytes: each line padded to 35 UTF-16 characters."""
    return b"".join(line.ljust(35).encode("utf-16-le")[:70] for line in lines)


def _decode(raw: bytes) -> str:
    return raw.decode("utf-16-le", errors="replace").replace("\x00", "")


def _date(value: str) -> str:
    """``20200101`` -> ``2020-01-01``; "长期" and anything not a date are kept as they are."""
    if value == LONG_TERM or len(value) != 8 or not value.isdigit():
        return value
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:])).isoformat()
    except ValueError:
        return value
