"""Update windows per site: ``"22:00-06:00"`` (hub local time; may wrap past midnight)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from hub.errors import ValidationError


def parse_window(text: str) -> tuple[int, int]:
    """Minutes after midnight of the window's start and end."""
    try:
        start, end = (part.strip() for part in text.split("-"))
        sh, sm = (int(x) for x in start.split(":"))
        eh, em = (int(x) for x in end.split(":"))
    except ValueError:
        raise ValidationError(f"update window {text!r} is not HH:MM-HH:MM") from None
    if not (0 <= sh < 24 and 0 <= eh < 24 and 0 <= sm < 60 and 0 <= em < 60):
        raise ValidationError(f"update window {text!r} is not HH:MM-HH:MM")
    return sh * 60 + sm, eh * 60 + em


def in_window(site: str, windows: Mapping[str, str], now: dt.datetime) -> bool:
    """A site without a window may update at any time."""
    text = windows.get(site) or windows.get("*")
    if not text:
        return True
    start, end = parse_window(text)
    minute = now.hour * 60 + now.minute
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end
