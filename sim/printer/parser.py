"""An incremental ESC/POS stream parser (sans-I/O): bytes in, events out.

It knows the length of every command a receipt printer commonly receives (from the ESC/POS
command reference), so that argument and data bytes are never taken for text. Bytes of a
command not yet complete stay buffered until the next ``feed``; a command it does not know is
skipped (its two prefix bytes) and counted; a declared data length beyond ``MAX_DATA`` is
refused and counted. Text is passed through as bytes: the page decodes it (GB18030 in Chinese
mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

MAX_DATA: Final = 1 << 20  # the largest command data block accepted (1 MiB)
_MAX_NUL_SEARCH: Final = 256  # ESC D tab stops, GS k (m 0-6) data end at NUL within this


@dataclass(frozen=True, slots=True)
class Text:
    """Printable bytes (0x20 and up) to add to the current line."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Command:
    """A command, named as in the reference ("ESC a", "GS ( k", "LF"), with its argument bytes."""

    name: str
    args: bytes = b""


@dataclass(frozen=True, slots=True)
class StatusRequest:
    """DLE EOT n: the printer must answer one status byte at once."""

    n: int


Event = Text | Command | StatusRequest

# Fixed argument counts after the two-byte prefix.
_ESC_FIXED: Final = {
    b"@": 0, b"!": 1, b"$": 2, b"%": 1, b"-": 1, b"2": 0, b"3": 1, b"=": 1, b"?": 1,
    b"E": 1, b"G": 1, b"J": 1, b"L": 0, b"M": 1, b"R": 1, b"S": 0, b"T": 1, b"U": 1, b"V": 1,
    b"W": 8, b"\\": 2, b"a": 1, b"c": 2, b"d": 1, b"e": 1, b"i": 0, b"m": 0, b"p": 3,
    b"r": 1, b"t": 1, b"u": 1, b"v": 0, b"{": 1, b" ": 1, b"K": 1,
}  # fmt: skip
_GS_FIXED: Final = {
    b"!": 1, b"$": 2, b"/": 1, b":": 0, b"B": 1, b"H": 1, b"I": 1, b"L": 2, b"P": 2,
    b"T": 1, b"W": 2, b"\\": 2, b"^": 3, b"a": 1, b"b": 1, b"f": 1, b"h": 1, b"r": 1,
    b"w": 1, b"E": 1,
}  # fmt: skip
_FS_FIXED: Final = {
    b"&": 0, b".": 0, b"!": 1, b"-": 1, b"C": 1, b"W": 1, b"S": 2, b"p": 2, b"2": 74,
}  # fmt: skip
_CUT_WITH_FEED: Final = (65, 66, 97, 98, 103, 104)
_PREFIX_NAMES: Final = {0x1B: "ESC", 0x1D: "GS", 0x1C: "FS"}


class EscPosParser:
    """Feed it bytes as they arrive; it returns the complete events found so far."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.unknown_commands = 0
        self.oversized = 0
        self.ignored_controls = 0

    @property
    def pending(self) -> int:
        """Bytes held back as the start of an incomplete command."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Event]:
        """Append ``data`` and return the events it completed; a partial command waits for more."""
        self._buf += data
        events: list[Event] = []
        while self._buf:
            step = self._next()
            if step is None:
                break
            used, event = step
            del self._buf[:used]
            if event is not None:
                events.append(event)
        return events

    def _next(self) -> tuple[int, Event | None] | None:
        """(bytes used, event or None), or None if the buffer holds an incomplete command."""
        buf = self._buf
        first = buf[0]
        if first >= 0x20:
            end = 1
            while end < len(buf) and buf[end] >= 0x20:
                end += 1
            return end, Text(bytes(buf[:end]))
        if first == 0x0A:
            return 1, Command("LF")
        if first == 0x0C:
            return 1, Command("FF")
        if first == 0x09:
            return 1, Command("HT")
        if first == 0x0D:
            return 1, None
        if first == 0x10:
            return self._dle()
        if first in _PREFIX_NAMES:
            return self._prefixed(first)
        self.ignored_controls += 1
        return 1, None

    def _dle(self) -> tuple[int, Event | None] | None:
        buf = self._buf
        if len(buf) < 2:
            return None
        if buf[1] == 0x04:  # DLE EOT n
            if len(buf) < 3:
                return None
            return 3, StatusRequest(buf[2])
        if buf[1] == 0x05:  # DLE ENQ n
            if len(buf) < 3:
                return None
            return 3, Command("DLE ENQ", bytes(buf[2:3]))
        if buf[1] == 0x14:  # DLE DC4 fn ...
            if len(buf) < 3:
                return None
            size = 3 + (7 if buf[2] == 8 else 2)
            if len(buf) < size:
                return None
            return size, Command("DLE DC4", bytes(buf[2:size]))
        self.ignored_controls += 1
        return 1, None

    def _prefixed(self, first: int) -> tuple[int, Event | None] | None:
        buf = self._buf
        if len(buf) < 2:
            return None
        prefix = _PREFIX_NAMES[first]
        code = bytes(buf[1:2])
        name = f"{prefix} {code.decode('latin-1')}"
        table = {0x1B: _ESC_FIXED, 0x1D: _GS_FIXED, 0x1C: _FS_FIXED}[first]
        if code in table:
            size = 2 + table[code]
            if len(buf) < size:
                return None
            return size, Command(name, bytes(buf[2:size]))
        variable = self._variable(first, code)
        if variable is None:
            return None
        if variable < 0:  # unknown command or a refused length: skip the prefix and the code
            return 2, None
        if variable == 0:
            return self._vary_by_nul(name)
        if len(buf) < variable:
            return None
        suffix = self._suffix(first, code)
        start = 3 if suffix else 2
        return variable, Command(name + suffix, bytes(buf[start:variable]))

    def _suffix(self, first: int, code: bytes) -> str:
        """The sub-command letter of GS ( x, GS 8 x, FS ( x and GS v 0 (kept out of the args)."""
        if code in (b"(", b"8") or (first == 0x1D and code == b"v"):
            return " " + chr(self._buf[2])
        return ""

    def _variable(self, first: int, code: bytes) -> int | None:
        """Total size of a variable-length command, 0 for NUL-terminated, -1 to skip, None: wait."""
        buf = self._buf
        if code == b"(" and first in (0x1D, 0x1C):  # GS ( x pL pH d1..dk / FS ( x pL pH ...
            if len(buf) < 5:
                return None
            return self._sized(5, buf[3] | buf[4] << 8)
        if first == 0x1D and code == b"8":  # GS 8 L p1 p2 p3 p4 ...
            if len(buf) < 7:
                return None
            return self._sized(7, int.from_bytes(buf[3:7], "little"))
        if first == 0x1D and code == b"v":  # GS v 0 m xL xH yL yH d1..dk
            if len(buf) < 8:
                return None
            if buf[2] != 0x30:
                return self._unknown()
            return self._sized(8, (buf[4] | buf[5] << 8) * (buf[6] | buf[7] << 8))
        if first == 0x1D and code == b"*":  # GS * x y d1..d(x*y*8)
            if len(buf) < 4:
                return None
            return self._sized(4, buf[2] * buf[3] * 8)
        if first == 0x1D and code == b"V":  # GS V m [n]
            if len(buf) < 3:
                return None
            return 4 if buf[2] in _CUT_WITH_FEED else 3
        if first == 0x1D and code == b"k":  # GS k m ...
            if len(buf) < 3:
                return None
            if buf[2] <= 6:
                return 0
            if len(buf) < 4:
                return None
            return 4 + buf[3]
        if first == 0x1B and code == b"*":  # ESC * m nL nH d1..dk
            if len(buf) < 5:
                return None
            dots = buf[3] | buf[4] << 8
            return self._sized(5, dots * (3 if buf[2] in (32, 33) else 1))
        if first == 0x1B and code == b"D":  # ESC D n1..nk NUL
            return 0
        return self._unknown()

    def _sized(self, header: int, length: int) -> int:
        if length > MAX_DATA:
            self.oversized += 1
            return -1
        return header + length

    def _unknown(self) -> int:
        self.unknown_commands += 1
        return -1

    def _vary_by_nul(self, name: str) -> tuple[int, Event | None] | None:
        """Commands whose data ends at NUL: ESC D and GS k with m = 0-6."""
        buf = self._buf
        start = 3 if name == "GS k" else 2
        end = buf.find(0, start, start + _MAX_NUL_SEARCH)
        if end < 0:
            if len(buf) < start + _MAX_NUL_SEARCH:
                return None
            self.oversized += 1
            return 2, None
        return end + 1, Command(name, bytes(buf[2:end]))
