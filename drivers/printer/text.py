"""Text for the printer: display columns (CJK = 2), wrapping, and GB18030 in Chinese mode.

python-escpos picks an encoding per string and only switches to GB18030 when the string holds
a CJK ideograph, so a line of full-width punctuation alone ("，。：") would print as '?'. Here
every line that holds any non-ASCII character is sent as GB18030 between FS & (enter Chinese
mode) and FS . (leave it); ASCII prints as itself in either mode. Control characters in the text
are replaced by spaces so that receipt data can never inject printer commands.
"""

from __future__ import annotations

import unicodedata

from drivers.printer.commands import CHINESE_OFF, CHINESE_ON


def char_width(ch: str) -> int:
    """Columns one character takes: 2 for wide and full-width (CJK), 0 for combining marks."""
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Columns a string takes on the printer."""
    return sum(char_width(ch) for ch in text)


def clean(text: str) -> str:
    """The text with control characters (C0, DEL, C1) replaced by spaces."""
    return "".join(" " if (ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0) else ch for ch in text)


def wrap(text: str, columns: int) -> list[str]:
    """Split text into lines of at most ``columns`` display columns (never halving a wide char).

    An ASCII word is moved whole to the next line when there is a space before it; CJK text
    breaks anywhere. Newlines in the text start new lines; an empty string gives one empty line.
    """
    if columns < 2:
        raise ValueError("need at least 2 columns")
    lines: list[str] = []
    for paragraph in clean_lines(text):
        current = ""
        for ch in paragraph:
            if display_width(current) + char_width(ch) > columns:
                cut = current.rfind(" ")
                tail = current[cut + 1 :]
                if ch != " " and ch.isascii() and cut > 0 and tail.isascii():
                    lines.append(current[:cut].rstrip())
                    current = tail
                else:
                    lines.append(current.rstrip())
                    current = ""
                if ch == " " and not current:
                    continue
            current += ch
        lines.append(current.rstrip())
    return lines


def clean_lines(text: str) -> list[str]:
    """The text split at newlines, each part cleaned of control characters."""
    return [clean(part) for part in text.split("\n")]


def fit(text: str, columns: int) -> str:
    """The text cut to at most ``columns`` display columns."""
    out = ""
    width = 0
    for ch in text:
        w = char_width(ch)
        if width + w > columns:
            break
        out += ch
        width += w
    return out


def pad_between(left: str, right: str, columns: int) -> str:
    """``left`` and ``right`` on one line of exactly ``columns`` columns (caller checks fit)."""
    gap = columns - display_width(left) - display_width(right)
    return left + " " * max(1, gap) + right


def encode_line(text: str) -> bytes:
    """One line of text as printer bytes (without the line feed).

    ASCII-only text is sent as is. Anything else is GB18030 inside FS & ... FS . so the printer
    is in Chinese mode exactly while it prints it.
    """
    text = clean(text)
    if text.isascii():
        return text.encode("ascii")
    # GB18030 covers all of Unicode; only a lone surrogate (possible in JSON) becomes '?'.
    return CHINESE_ON + text.encode("gb18030", errors="replace") + CHINESE_OFF
