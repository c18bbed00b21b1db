"""GB 11643-1999 citizen identification numbers (公民身份号码).

18 characters: a 6-digit address code, the birth date YYYYMMDD, a 3-digit sequence (odd for men,
even for women) and a check character computed with ISO 7064 MOD 11-2 (0-9 or X).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"


def check_digit(first17: str) -> str:
    """The check character of the first 17 digits (ISO 7064 MOD 11-2).

    >>> check_digit("11010519491231002")
    'X'
    """
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError(f"need 17 digits, got {len(first17)} characters")
    total = sum(int(ch) * weight for ch, weight in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


@dataclass(frozen=True, slots=True)
class IdNumberCheck:
    """The result of checking a number: which parts hold, and why not."""

    valid: bool
    reason: str = ""
    birth_date: dt.date | None = None
    sex_code: int | None = None  # 1 male, 2 female (from the sequence's parity)


def validate(number: str) -> IdNumberCheck:
    """Check form, birth date and check digit of an 18-character number."""
    number = number.strip()
    if len(number) != 18:
        return IdNumberCheck(False, f"length {len(number)}, expected 18")
    head, last = number[:17], number[17].upper()
    if not head.isascii() or not head.isdigit() or last not in "0123456789X":
        return IdNumberCheck(False, "characters other than digits and a final X")
    try:
        birth = dt.date(int(head[6:10]), int(head[10:12]), int(head[12:14]))
    except ValueError:
        return IdNumberCheck(False, "the birth date part is not a date")
    sex_code = 1 if int(head[16]) % 2 else 2
    expected = check_digit(head)
    if last != expected:
        return IdNumberCheck(
            False, f"check digit {last} does not match {expected}", birth, sex_code
        )
    return IdNumberCheck(True, "", birth, sex_code)


def is_valid(number: str) -> bool:
    """Whether ``number`` is a valid resident ID number."""
    return validate(number).valid
