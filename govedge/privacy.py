"""Masking of citizen data for logs, telemetry and displays.

Citizen data (ID number, name, address, photo, fingerprint, face) never reaches a log: callers
mask it with these helpers, and the logging handler (govedge.logs.MaskingFilter) masks every
record of every logger as a second guard with :func:`mask_value` and :func:`mask_text`.

What is recognised:

- in free text: 18-character PRC ID numbers (also the 18-digit numbers of Hong Kong, Macau and
  Taiwan residence permits and of the 2023 foreigner's permanent residence card), 15-digit
  first-generation ID numbers, 15-character foreigner's permanent residence numbers (three
  letters and twelve digits), mainland travel permit numbers of Hong Kong and Macau residents
  (H or M and eight or ten digits), ``name=...``/``address=...`` pairs and Chinese street
  addresses (province or city ... number);
- in structured values (dicts, lists, tuples, nested): values under name, address and number
  keys, and bytes (a photo, a fingerprint) which become their length only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_ID_RE = re.compile(r"(?<![0-9])([1-9][0-9]{5})([0-9]{8})([0-9]{3}[0-9Xx])(?![0-9A-Za-z])")
_ID15_RE = re.compile(r"(?<![0-9A-Za-z])([1-9][0-9]{5})([0-9]{6})([0-9]{3})(?![0-9A-Za-z])")
_FOREIGNER_RE = re.compile(r"(?<![0-9A-Za-z])([A-Z]{3})([0-9]{8})([0-9]{4})(?![0-9A-Za-z])")
_PERMIT_RE = re.compile(
    r"(?<![0-9A-Za-z])([HMhm][0-9]{2})([0-9]{4})([0-9]{2}(?:[0-9]{2})?)(?![0-9A-Za-z])"
)
_CJK = "\u4e00-\u9fff"
_ADDRESS_RE = re.compile(
    rf"([{_CJK}]{{2,8}}(?:省|自治区|市))([{_CJK}0-9A-Za-z\-()（）]{{1,40}}?"
    rf"(?:号|室|弄|栋|幢|楼|村|组))"
)
_PAIR_RE = re.compile(
    r"(?P<key>\b(?:name|english_name|chinese_name|full_name|address|addr)\b|姓名|住址|地址)"
    r"(?P<sep>['\"]?\s*[:=]\s*)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s,;}\]]+)",
    re.IGNORECASE,
)

NAME_KEYS = frozenset({"name", "english_name", "chinese_name", "full_name", "holder", "姓名"})
ADDRESS_KEYS = frozenset({"address", "addr", "extra_addresses", "住址", "地址"})
ID_KEYS = frozenset({"id_number", "idnumber", "id_no", "ssn"})
NUMBER_KEYS = frozenset({"pass_number", "permit_number", "permit", "card_number", "passport"})
SECRET_KEYS = frozenset({"photo", "photo_raw", "fingerprint", "face", "template", "feature"})


def mask_id_number(value: str) -> str:
    """``110105199001010023`` -> ``110105********0023``: region kept, birth date hidden."""
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_document_number(value: str) -> str:
    """A permit or pass number: ``H1234567801`` -> ``H12******01``."""
    if len(value) <= 6:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 5) + value[-2:]


def mask_name(value: str) -> str:
    """``张三丰`` -> ``张**``; an empty name stays empty."""
    return value[:1] + "*" * (len(value) - 1) if value else value


def mask_address(value: str) -> str:
    """Keep the first six characters (province, city), hide the rest."""
    return value[:6] + "*" * max(0, len(value) - 6)


_CJK_RE = re.compile(f"[{_CJK}]")
_PERSON_RE = re.compile(r"^[A-Z][A-Za-z'\-]+,?\s+[A-Z]")


def looks_personal(key: str, value: str) -> bool:
    """Whether ``value`` under a name or address key is a person's, not a thing's.

    ``name`` also names commands, drivers and devices (``ping``, ``camera``, ``kiosk-0001``),
    and ``address`` a socket or a bus unit; those stay readable. A name in Chinese characters
    or written as ``SURNAME, GIVEN`` / ``Given Surname`` is a person's; an address with Chinese
    characters or spaces is a place."""
    if _CJK_RE.search(value):
        return True
    lowered = key.lower()
    if lowered in ADDRESS_KEYS:
        return bool(re.search(r"\s", value.strip()))
    if lowered in ("name",):
        return bool(_PERSON_RE.match(value))
    return bool(value)


def _pair(m: re.Match[str]) -> str:
    key, value = m.group("key"), m.group("value")
    quote = value[0] if value[:1] in ("'", '"') else ""
    inner = value[1:-1] if quote else value
    lowered = key.lower()
    if not looks_personal(lowered, inner):
        return m.group(0)
    masked = mask_address(inner) if lowered in ADDRESS_KEYS else mask_name(inner)
    return f"{key}{m.group('sep')}{quote}{masked}{quote}"


def mask_text(text: str) -> str:
    """Mask the ID, foreigner and permit numbers, name/address pairs and Chinese street
    addresses found in free text."""
    text = _ID_RE.sub(lambda m: m.group(1) + "*" * 8 + m.group(3), text)
    text = _ID15_RE.sub(lambda m: m.group(1) + "*" * 6 + m.group(3), text)
    text = _FOREIGNER_RE.sub(lambda m: m.group(1) + "*" * 8 + m.group(3), text)
    text = _PERMIT_RE.sub(lambda m: m.group(1) + "*" * 4 + m.group(3), text)
    text = _PAIR_RE.sub(_pair, text)
    return _ADDRESS_RE.sub(lambda m: mask_address(m.group(0)), text)


def mask_value(value: Any, key: str = "", _depth: int = 0) -> Any:
    """``value`` with citizen data masked, through nested dicts, lists and tuples: by key
    (names, addresses, numbers, photos), and every string by :func:`mask_text`."""
    if _depth > 20:
        return "<nested too deep>"
    lowered = key.lower()
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if lowered in SECRET_KEYS and value:
        return "<hidden>"
    if isinstance(value, str):
        if lowered in NAME_KEYS and looks_personal(lowered, value):
            return mask_name(value)
        if lowered in ADDRESS_KEYS and looks_personal(lowered, value):
            return mask_address(value)
        if lowered in ID_KEYS:
            return mask_id_number(value)
        if lowered in NUMBER_KEYS:
            return mask_document_number(value)
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: mask_value(v, str(k), _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        masked = [mask_value(v, key, _depth + 1) for v in value]
        return tuple(masked) if isinstance(value, tuple) else masked
    return value
