"""ESC/POS command bytes, as the Epson ESC/POS command reference defines them (sans-I/O).

Only the commands this driver sends or the simulator must answer are here; QR codes, raster
images and cuts are encoded by python-escpos in ``render`` and checked against these values in
the tests.
"""

from __future__ import annotations

from typing import Final

ESC: Final = b"\x1b"
GS: Final = b"\x1d"
FS: Final = b"\x1c"
DLE: Final = b"\x10"
EOT: Final = b"\x04"
LF: Final = b"\n"

INIT: Final = ESC + b"@"  # ESC @: initialize printer (1B 40)
CHINESE_ON: Final = FS + b"&"  # FS &: select Kanji/Chinese character mode (1C 26)
CHINESE_OFF: Final = FS + b"."  # FS .: cancel Chinese character mode (1C 2E)

ALIGN_LEFT: Final = 0
ALIGN_CENTER: Final = 1
ALIGN_RIGHT: Final = 2

# DLE EOT n: real-time status transmission (10 04 n).
STATUS_PRINTER: Final = 1
STATUS_OFFLINE_CAUSE: Final = 2
STATUS_ERROR_CAUSE: Final = 3
STATUS_PAPER_SENSOR: Final = 4

# GS ( k, cn = 49 (QR code): function numbers.
QR_FN_MODEL: Final = 65
QR_FN_SIZE: Final = 67
QR_FN_ERROR_CORRECTION: Final = 69
QR_FN_STORE: Final = 80
QR_FN_PRINT: Final = 81
QR_EC_LEVELS: Final = {"L": 48, "M": 49, "Q": 50, "H": 51}


def align(where: int) -> bytes:
    """ESC a n: justification (0 left, 1 centre, 2 right)."""
    if where not in (ALIGN_LEFT, ALIGN_CENTER, ALIGN_RIGHT):
        raise ValueError(f"alignment {where} is not 0, 1 or 2")
    return ESC + b"a" + bytes((where,))


def bold(on: bool) -> bytes:
    """ESC E n: emphasized mode on or off."""
    return ESC + b"E" + bytes((1 if on else 0,))


def char_size(width: int = 1, height: int = 1) -> bytes:
    """GS ! n: character size; width and height magnification 1-8 each."""
    if not (1 <= width <= 8 and 1 <= height <= 8):
        raise ValueError("character magnification must be 1-8")
    return GS + b"!" + bytes((((width - 1) << 4) | (height - 1),))


def feed_lines(n: int) -> bytes:
    """ESC d n: print and feed n lines."""
    if not 0 <= n <= 255:
        raise ValueError("feed must be 0-255 lines")
    return ESC + b"d" + bytes((n,))


def status_request(n: int) -> bytes:
    """DLE EOT n: ask for real-time status n (1 printer, 2 offline, 3 error, 4 paper roll)."""
    if n not in (1, 2, 3, 4):
        raise ValueError(f"DLE EOT n must be 1-4, not {n}")
    return DLE + EOT + bytes((n,))


def barcode_code128(data: str) -> bytes:
    """GS k m n d1..dn with m = 73 (CODE128, code set B selected by the '{B' prefix)."""
    payload = b"{B" + data.encode("ascii")
    if len(payload) > 255:
        raise ValueError("CODE128 data too long")
    return GS + b"k" + bytes((73, len(payload))) + payload


def barcode_height(dots: int) -> bytes:
    """GS h n: barcode height in dots."""
    return GS + b"h" + bytes((max(1, min(255, dots)),))


def barcode_hri_below() -> bytes:
    """GS H 2: print the human-readable digits below the barcode."""
    return GS + b"H" + b"\x02"
