"""Identifiers: proof ids in the style of GB/T 36904, and the checks of the numbers a citizen or
a company hands in (GB 11643 ID numbers, GB 32100 unified social credit codes)."""

from __future__ import annotations

import operator
import re
import secrets
import time
from functools import lru_cache
from typing import Final

# GB/T 36904 names an e-licence by an OID path: the root for e-licences, the licence type code,
# the issuing office's credit code, a serial, a version and a check character.
ROOT_OID: Final = "1.2.156.3005.2"
_ALNUM: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


_VALUE: Final = {ch: i for i, ch in enumerate(_ALNUM)}


def _mod37_36_run(p: int, text: str) -> int:
    """ISO/IEC 7064 MOD 37,36 over ``text`` from the running value ``p`` (36 at the start);
    ValueError on a character other than a digit or a capital."""
    try:
        for ch in text:
            p = (((p + _VALUE[ch]) % 36 or 36) * 2) % 37
    except KeyError:
        raise ValueError(f"{text!r}: only digits and capital letters have a check value") from None
    return p


@lru_cache(maxsize=64)
def _mod37_36_prefix(text: str) -> int:
    """The running value after a proof id's fixed part (type and office), computed once."""
    return _mod37_36_run(36, text)


def iso7064_mod37_36(text: str) -> str:
    """The ISO/IEC 7064 MOD 37,36 check character of ``text`` (digits and capitals)."""
    return _ALNUM[(37 - _mod37_36_run(36, text)) % 36]


@lru_cache(maxsize=4)
def _utc_day(days: int) -> str:
    """``YYYYMMDD`` of the UTC day ``days`` after 1970-01-01."""
    return time.strftime("%Y%m%d", time.gmtime(days * 86400))


@lru_cache(maxsize=16)
def _day_prefix(type_code: str, office_code: str, days: int) -> tuple[str, int]:
    """A proof id's fixed part for a type, an office and a UTC day, up to its serial's date,
    and the check's running value after it (computed once a day)."""
    date = _utc_day(days)
    return f"{ROOT_OID}.{type_code}.{office_code}.{date}", _mod37_36_run(
        _mod37_36_prefix(type_code + office_code), date
    )


# The check's running value after the two hex digits of a byte (a serial's random part is
# hex), and after the version ".001" (its digits), for each running value 0..36: a proof id's
# variable tail costs six lookups instead of thirteen steps.
_AFTER_BYTE: Final = [[_mod37_36_run(p, f"{b:02X}") for b in range(256)] for p in range(37)]
_AFTER_VERSION: Final = [_mod37_36_run(p, "001") for p in range(37)]
SERIAL_RANDOM_BYTES: Final = 5  # 40 random bits in each serial


def new_proof_id(
    type_code: str, office_code: str, now: float | None = None, random: bytes | None = None
) -> str:
    """``1.2.156.3005.2.<type>.<office>.<serial>.001.<check>``; serial: date + 40 random bits
    (``random``, 5 bytes from a CSPRNG, when the caller drew them for many ids at once)."""
    head, p = _day_prefix(
        type_code, office_code, int((time.time() if now is None else now) // 86400)
    )
    if random is None:
        random = secrets.token_bytes(SERIAL_RANDOM_BYTES)
    elif len(random) != SERIAL_RANDOM_BYTES:
        raise ValueError(f"a serial takes {SERIAL_RANDOM_BYTES} random bytes")
    for byte in random:
        p = _AFTER_BYTE[p][byte]
    return f"{head}{random.hex().upper()}.001.{_ALNUM[(37 - _AFTER_VERSION[p]) % 36]}"


def proof_id_ok(proof_id: str) -> bool:
    """Whether ``proof_id`` is under the root OID and its ISO 7064 check character holds."""
    parts = proof_id.split(".")
    if len(parts) != 10 or ".".join(parts[:5]) != ROOT_OID:
        return False
    body = "".join(parts[5:9])
    if not all(ch in _ALNUM for ch in body):
        return False
    return iso7064_mod37_36(body) == parts[9]


_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_ASCII_ZEROS: Final = ord("0") * sum(_ID_WEIGHTS)
_ID_CHECK: Final = "10X98765432"
_ID_RE: Final = re.compile(r"[1-9][0-9]{16}[0-9X]")


def id_number_ok(value: str) -> bool:
    """A PRC resident ID number (GB 11643-1999): 18 characters with its check character."""
    if not _ID_RE.fullmatch(value):
        return False
    # The weighted sum of the 17 digits, from their ASCII codes (checked by the pattern) in one
    # pass at C speed: every issued proof checks its subject's number.
    total = sum(map(operator.mul, value.encode()[:17], _ID_WEIGHTS)) - _ID_ASCII_ZEROS
    return _ID_CHECK[total % 11] == value[17]


_USCC_CHARS: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_ok(value: str) -> bool:
    """A unified social credit code (GB 32100-2015): 18 characters with its check character."""
    if len(value) != 18 or any(ch not in _USCC_CHARS for ch in value):
        return False
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(value[:17], _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31] == value[17]


# Personal data in a free-text comment: an ID number, a mobile or a landline number.
_PERSONAL: Final = (
    re.compile(r"(?<![0-9])[1-9][0-9]{5}(?:19|20)[0-9]{2}[0-9]{6,7}[0-9Xx]?(?![0-9])"),
    re.compile(r"(?<![0-9])1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9])"),
    re.compile(r"(?<![0-9])0[0-9]{2,3}[ -]?[0-9]{7,8}(?![0-9])"),
    re.compile(r"[0-9][0-9 -]{9,}[0-9]"),
)


def looks_personal(text: str) -> bool:
    """True if ``text`` holds something shaped like an ID or a phone number."""
    return any(p.search(text) for p in _PERSONAL)
