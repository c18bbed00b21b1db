"""Masking of citizen data for logs, telemetry and displays.

Citizen data (ID number, name, photo, fingerprint, face) never reaches a log: callers mask it with
these helpers, and the log formatter masks anything shaped like an ID number as a second guard.
"""

from __future__ import annotations

import re

_ID_RE = re.compile(r"(?<![0-9])([1-9][0-9]{5})([0-9]{8})([0-9]{3}[0-9Xx])(?![0-9A-Za-z])")


def mask_id_number(value: str) -> str:
    """``110105199001010023`` -> ``110105********0023``: region kept, birth date hidden."""
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_name(value: str) -> str:
    """``张三丰`` -> ``张**``; an empty name stays empty."""
    return value[:1] + "*" * (len(value) - 1) if value else value


def mask_text(text: str) -> str:
    """Mask every 18-character PRC ID number found in free text."""
    return _ID_RE.sub(lambda m: m.group(1) + "*" * 8 + m.group(3), text)
