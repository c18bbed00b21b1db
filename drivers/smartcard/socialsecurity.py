"""The Chinese social-security card (社会保障卡): select its application, read its basic data.

The application is selected by its DF name, ``sx1.sh.`` followed by 社会保障 in GBK. Its basic
data sit in two record files readable without a PIN: EF05 (issuer data: card identifier, version,
issue and expiry dates, card number) and EF06 (holder data: social-security number, which is the
ID number, name, sex, nation, birth place and date). Which records exist, their identifiers,
formats and lengths come from ``data/ssc_layout.json``, so a regional variant is a data change.

Cards in the field do not all carry every record (an issuing region may leave out an issuer
record). A read takes what the card holds: a record the card does not have (6A83) is reported in
``missing`` and left out of the values, and the read fails only when a field the caller needs is
missing (``required``; by default the layout's ``required`` list, the holder's ID number and name).

The value codecs here are sans-I/O (bytes <-> text); ``read_social_security_card`` drives any
``Iso7816Card``. Citizen data leave this module masked unless the caller asks to reveal them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from drivers.smartcard.errors import (
    ApplicationDataError,
    RecordNotFoundError,
    RequiredFieldMissingError,
)
from drivers.smartcard.exchange import Iso7816Card
from govedge.privacy import mask_id_number, mask_name

SSC_DF_NAME = b"sx1.sh." + "社会保障".encode("gbk")
FORMATS = ("an", "gbk", "cn", "date", "b")


@dataclass(frozen=True, slots=True)
class RecordSpec:
    """One data item: its record identifier, output field, format and fixed length."""

    record_id: int
    field: str
    label: str
    format: str
    length: int
    mask: str | None = None
    optional: bool = False


@dataclass(frozen=True, slots=True)
class FileSpec:
    """One record file (EF) of the application."""

    fid: int
    name: str
    records: tuple[RecordSpec, ...]


@dataclass(frozen=True, slots=True)
class Layout:
    """The application's DF name, its readable files and code tables."""

    df_name: bytes
    files: tuple[FileSpec, ...]
    protected_files: tuple[int, ...]
    sex: dict[str, str]
    nations: dict[str, str]
    required: tuple[str, ...] = ()


def parse_layout(doc: dict[str, Any]) -> Layout:
    """Build a Layout from its JSON form; raise ApplicationDataError on a bad document."""
    try:
        files = []
        for f in doc["files"]:
            records = []
            for r in f["records"]:
                if r["format"] not in FORMATS:
                    raise ApplicationDataError(f"unknown record format {r['format']!r}")
                records.append(
                    RecordSpec(
                        record_id=int(r["id"], 16),
                        field=r["field"],
                        label=r["label"],
                        format=r["format"],
                        length=int(r["length"]),
                        mask=r.get("mask"),
                        optional=bool(r.get("optional", False)),
                    )
                )
            files.append(FileSpec(int(f["fid"], 16), f["name"], tuple(records)))
        return Layout(
            df_name=bytes.fromhex(doc["df_name_hex"]),
            files=tuple(files),
            protected_files=tuple(int(x, 16) for x in doc.get("protected_files", [])),
            sex=dict(doc.get("sex", {})),
            nations=dict(doc.get("nations", {})),
            required=tuple(str(x) for x in doc.get("required", [])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ApplicationDataError(f"bad card layout: {exc!r}") from exc


@lru_cache(maxsize=4)
def load_layout(path: str | None = None) -> Layout:
    """The layout from ``path``, or the one shipped with the package."""
    if path is None:
        text = (
            resources.files("drivers.smartcard")
            .joinpath("data/ssc_layout.json")
            .read_text(encoding="utf-8")
        )
    else:
        text = Path(path).read_text(encoding="utf-8")
    return parse_layout(json.loads(text))


# --- Value codecs: fixed-length fields with the card's padding rules. ---


def encode_value(spec: RecordSpec, value: str) -> bytes:
    """A value as the card stores it: ``spec.length`` bytes, padded."""
    if spec.format in ("an", "gbk"):
        raw = value.encode("ascii" if spec.format == "an" else "gbk")
        pad = b"\x00"
    elif spec.format in ("cn", "date"):
        digits = value.replace("-", "") if spec.format == "date" else value
        if not digits.isdigit() or not digits.isascii():
            raise ApplicationDataError(f"{spec.field}: not decimal digits: {value!r}")
        if len(digits) % 2:
            digits += "F"
        raw = bytes.fromhex(digits)
        pad = b"\xff"
    else:
        raw = bytes.fromhex(value)
        pad = b"\x00"
    if len(raw) > spec.length:
        raise ApplicationDataError(f"{spec.field}: {len(raw)} bytes, longer than {spec.length}")
    return raw + pad * (spec.length - len(raw))


def decode_value(spec: RecordSpec, raw: bytes) -> str:
    """The text of a stored value; raise ApplicationDataError when it breaks the format."""
    if spec.format in ("an", "gbk"):
        text = raw.split(b"\x00", 1)[0].rstrip(b" ")
        try:
            return text.decode("ascii" if spec.format == "an" else "gbk")
        except UnicodeDecodeError as exc:
            raise ApplicationDataError(f"{spec.field}: not {spec.format} text") from exc
    if spec.format in ("cn", "date"):
        digits = raw.hex().upper().rstrip("F")
        if not digits.isdigit() and digits:
            raise ApplicationDataError(f"{spec.field}: not BCD digits: {raw.hex()}")
        if spec.format == "date":
            if len(digits) != 8:
                raise ApplicationDataError(f"{spec.field}: not a YYYYMMDD date: {raw.hex()}")
            return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
        return digits
    return raw.hex().upper()


def encode_record(spec: RecordSpec, value: str) -> bytes:
    """A whole record: identifier, length, value (TLV)."""
    body = encode_value(spec, value)
    return bytes((spec.record_id, len(body))) + body


def decode_record(spec: RecordSpec, record: bytes) -> str:
    """The value of a TLV record; checks its identifier and length."""
    if len(record) < 2:
        raise ApplicationDataError(f"{spec.field}: record too short ({len(record)} bytes)")
    tag, length = record[0], record[1]
    if tag != spec.record_id:
        raise ApplicationDataError(
            f"{spec.field}: record identifier {tag:02X}, expected {spec.record_id:02X}"
        )
    if length != len(record) - 2:
        raise ApplicationDataError(
            f"{spec.field}: record says {length} bytes, carries {len(record) - 2}"
        )
    return decode_value(spec, record[2:])


# --- The card as read. ---


def _mask(kind: str | None, value: str) -> str:
    if not value or kind is None:
        return value
    if kind == "id":
        return mask_id_number(value)
    if kind == "name":
        return mask_name(value)
    if kind == "date":
        return value[:4] + "-**-**"
    if kind == "card":
        return value[:1] + "*" * max(0, len(value) - 3) + value[-2:]
    return "*" * len(value)


@dataclass(slots=True)
class SocialSecurityCard:
    """The basic data of one card: field -> text, plus the decoded code tables, and the fields
    whose records the card does not carry (``missing``)."""

    values: dict[str, str]
    layout: Layout
    atr: bytes = b""
    reader: str = ""
    missing: tuple[str, ...] = ()
    _masks: dict[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._masks = {r.field: r.mask for f in self.layout.files for r in f.records}

    def as_dict(self, reveal: bool = False) -> dict[str, str]:
        """All fields, citizen data masked unless ``reveal``; adds sex/nation labels."""
        out: dict[str, str] = {}
        for key, value in self.values.items():
            out[key] = value if reveal else _mask(self._masks.get(key), value)
        out["sex_label"] = self.layout.sex.get(self.values.get("sex", ""), "")
        out["nation_label"] = self.layout.nations.get(self.values.get("nation", ""), "")
        if self.reader:
            out["reader"] = self.reader
        if self.atr:
            out["atr"] = self.atr.hex(" ").upper()
        if self.missing:
            out["missing"] = ",".join(self.missing)
        return out

    def wipe(self) -> None:
        """Drop the citizen's data from this object (the session is over)."""
        for key in list(self.values):
            self.values[key] = ""
        self.values.clear()


@dataclass(frozen=True, slots=True)
class CardRecords:
    """What a read found: field -> text for the records the card holds, and the fields whose
    records it does not hold, in layout order."""

    values: dict[str, str]
    missing: tuple[str, ...]


def read_card_records(
    card: Iso7816Card, layout: Layout | None = None, required: tuple[str, ...] | None = None
) -> CardRecords:
    """Select the application and read every record of the layout the card holds.

    A record the card does not have is noted in ``missing``; RequiredFieldMissingError only
    when a field in ``required`` (default: the layout's) is among them.
    """
    layout = layout or load_layout()
    needed = layout.required if required is None else required
    card.select_application(layout.df_name)
    values: dict[str, str] = {}
    missing: list[str] = []
    for file in layout.files:
        card.select_file(file.fid)
        for spec in file.records:
            try:
                record = card.read_record(spec.record_id, by_id=True)
            except RecordNotFoundError:
                missing.append(spec.field)
                continue
            values[spec.field] = decode_record(spec, record)
    absent = tuple(f for f in needed if f in missing)
    if absent:
        values.clear()
        raise RequiredFieldMissingError(
            f"the card has no record for {', '.join(absent)} (needed); "
            f"missing: {', '.join(missing)}",
            absent,
        )
    return CardRecords(values, tuple(missing))


def read_social_security_card(
    card: Iso7816Card, layout: Layout | None = None, required: tuple[str, ...] | None = None
) -> dict[str, str]:
    """The values of :func:`read_card_records` (fields the card lacks are left out)."""
    return read_card_records(card, layout, required).values
