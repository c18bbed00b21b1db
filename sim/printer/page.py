"""Events -> receipts: what the simulated printer has printed, element by element (sans-I/O).

Text is collected per line in runs of one style; a line is decoded when it is printed (LF,
ESC d, FF): runs sent in Chinese mode (FS & ... FS .) as GB18030, the others in the selected
code page (PC437 unless ESC t chose another). GS ( k stores and prints QR codes, GS v 0 prints
raster images, GS k barcodes, and GS V ends the receipt with a cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from sim.printer.parser import Command, Event, StatusRequest, Text

_CODEPAGES: Final = {0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 16: "cp1252",
                     17: "cp866", 18: "cp852", 19: "cp858"}  # fmt: skip
_EC_NAMES: Final = {48: "L", 49: "M", 50: "Q", 51: "H"}
_BARCODE_NAMES: Final = {
    0: "UPC-A", 1: "UPC-E", 2: "EAN13", 3: "EAN8", 4: "CODE39", 5: "ITF", 6: "CODABAR",
    65: "UPC-A", 66: "UPC-E", 67: "EAN13", 68: "EAN8", 69: "CODE39", 70: "ITF", 71: "CODABAR",
    72: "CODE93", 73: "CODE128",
}  # fmt: skip


@dataclass(slots=True)
class Run:
    """Bytes of one line printed in one style."""

    data: bytearray
    chinese: bool
    codepage: int
    bold: bool
    width: int
    height: int

    def text(self) -> str:
        """The run's bytes decoded as the printer would: GB18030 in Chinese mode, else the
        selected code page (unknown pages as cp437), undecodable bytes replaced.
        """
        raw = bytes(self.data)
        if self.chinese:
            return raw.decode("gb18030", errors="replace")
        return raw.decode(_CODEPAGES.get(self.codepage, "cp437"), errors="replace")


@dataclass(frozen=True, slots=True)
class TextLine:
    """One printed line: its runs as (text, bold, width, height) and its justification."""

    runs: tuple[tuple[str, bool, int, int], ...]
    align: int

    @property
    def text(self) -> str:
        """The line's text, its runs joined."""
        return "".join(run[0] for run in self.runs)


@dataclass(frozen=True, slots=True)
class QrCode:
    """A QR code the printer was asked to print."""

    data: bytes
    size: int
    ec: str
    align: int

    @property
    def text(self) -> str:
        """The QR code's data as text, undecodable bytes replaced."""
        return self.data.decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class Raster:
    """A GS v 0 bit image: rows of ``width_bytes`` bytes, 1 bits are black dots."""

    width_bytes: int
    height: int
    data: bytes
    scale_x: int
    scale_y: int
    align: int


@dataclass(frozen=True, slots=True)
class Barcode:
    """A barcode the printer was asked to print."""

    kind: str
    data: str
    height: int
    hri: int
    align: int


@dataclass(frozen=True, slots=True)
class Feed:
    """Paper fed, in dots."""

    dots: int


Element = TextLine | QrCode | Raster | Barcode | Feed


@dataclass(slots=True)
class SimReceipt:
    """One receipt, from the first byte after the previous cut to its own cut."""

    number: int
    elements: list[Element] = field(default_factory=list)
    cut: str = ""  # "full", "partial" or "" (not cut yet)
    png: str | None = None

    @property
    def text_lines(self) -> list[str]:
        """The receipt's printed lines, in order, without styles."""
        return [e.text for e in self.elements if isinstance(e, TextLine)]

    @property
    def qr_payloads(self) -> list[str]:
        """The data of the receipt's QR codes, in order."""
        return [e.text for e in self.elements if isinstance(e, QrCode)]

    @property
    def barcodes(self) -> list[tuple[str, str]]:
        """The receipt's barcodes as (symbology, data), in order."""
        return [(e.kind, e.data) for e in self.elements if isinstance(e, Barcode)]

    @property
    def images(self) -> list[Raster]:
        """The receipt's raster images, in order."""
        return [e for e in self.elements if isinstance(e, Raster)]


LINE_DOTS: Final = 30  # default line spacing (ESC 2)


class PageBuilder:
    """Applies parsed events to the print state; ``apply`` returns the receipt a cut finished."""

    def __init__(self) -> None:
        self.count = 0
        self.unsupported = 0
        self.current = SimReceipt(1)
        self._reset()

    def _reset(self) -> None:
        self.align = 0
        self.bold = False
        self.width = 1
        self.height = 1
        self.chinese = False
        self.codepage = 0
        self.line_dots = LINE_DOTS
        self.qr_size = 3
        self.qr_ec = "L"
        self.qr_data = b""
        self.barcode_height = 162
        self.barcode_hri = 0
        self._runs: list[Run] = []
        self._line_align: int | None = None

    def apply(self, event: Event) -> SimReceipt | None:
        """Apply one parsed event; returns the receipt a cut completed, else None."""
        if isinstance(event, Text):
            self._add_text(event.data)
            return None
        if isinstance(event, StatusRequest):
            return None
        return self._command(event)

    def _add_text(self, data: bytes) -> None:
        if self._line_align is None:
            self._line_align = self.align
        style = (self.chinese, self.codepage, self.bold, self.width, self.height)
        last = self._runs[-1] if self._runs else None
        if last and (last.chinese, last.codepage, last.bold, last.width, last.height) == style:
            last.data += data
        else:
            self._runs.append(Run(bytearray(data), *style))

    def _print_line(self) -> None:
        runs = tuple((r.text(), r.bold, r.width, r.height) for r in self._runs)
        align = self.align if self._line_align is None else self._line_align
        self.current.elements.append(TextLine(runs, align))
        self._runs = []
        self._line_align = None

    def _flush_partial(self) -> None:
        if self._runs:
            self._print_line()

    def _command(self, cmd: Command) -> SimReceipt | None:
        name, args = cmd.name, cmd.args
        if name in ("LF", "FF"):
            self._print_line()
        elif name == "HT":
            self._add_text(b" ")
        elif name == "ESC @":
            self._runs = []
            self._reset()
        elif name == "ESC a":
            self.align = args[0] % 48 if args[0] % 48 <= 2 else 0
        elif name == "ESC E":
            self.bold = bool(args[0] & 1)
        elif name == "ESC !":
            self.bold = bool(args[0] & 0x08)
            self.height = 2 if args[0] & 0x10 else 1
            self.width = 2 if args[0] & 0x20 else 1
        elif name == "GS !":
            if (args[0] >> 4) <= 7 and (args[0] & 0x0F) <= 7:
                self.width, self.height = (args[0] >> 4) + 1, (args[0] & 0x0F) + 1
        elif name == "FS &":
            self.chinese = True
        elif name == "FS .":
            self.chinese = False
        elif name == "ESC t":
            self.codepage = args[0]
        elif name == "ESC 2":
            self.line_dots = LINE_DOTS
        elif name == "ESC 3":
            self.line_dots = args[0]
        elif name == "ESC d":
            self._print_line()
            if args[0] > 1:
                self.current.elements.append(Feed((args[0] - 1) * self.line_dots))
        elif name == "ESC J":
            self._flush_partial()
            self.current.elements.append(Feed(args[0]))
        elif name == "GS ( k":
            self._two_d_code(args)
        elif name == "GS v 0":
            self._raster(args)
        elif name == "GS k":
            self._barcode(args)
        elif name == "GS h":
            self.barcode_height = args[0]
        elif name == "GS H":
            self.barcode_hri = args[0] % 48
        elif name == "GS V":
            return self._cut(args)
        return None

    def _two_d_code(self, args: bytes) -> None:
        # args: pL pH cn fn [m] data
        if len(args) < 4 or args[2] != 49:
            self.unsupported += 1
            return
        fn, params = args[3], args[4:]
        if fn == 67 and params:
            self.qr_size = params[0]
        elif fn == 69 and params:
            self.qr_ec = _EC_NAMES.get(params[0], "L")
        elif fn == 80 and params:
            self.qr_data = bytes(params[1:])
        elif fn == 81:
            self._flush_partial()
            align = self.align if self._line_align is None else self._line_align
            self.current.elements.append(QrCode(self.qr_data, self.qr_size, self.qr_ec, align))

    def _raster(self, args: bytes) -> None:
        # args: m xL xH yL yH d1..dk  (GS v 0; the '0' is in the name)
        m = args[0] % 48
        width_bytes, height = args[1] | args[2] << 8, args[3] | args[4] << 8
        self._flush_partial()
        self.current.elements.append(
            Raster(width_bytes, height, bytes(args[5:]), 1 + (m & 1), 1 + (m >> 1 & 1), self.align)
        )

    def _barcode(self, args: bytes) -> None:
        m = args[0]
        data = args[1:] if m <= 6 else args[2:]
        text = data.decode("latin-1")
        if m == 73 and text[:2] in ("{A", "{B", "{C"):
            text = text[2:]
        self._flush_partial()
        kind = _BARCODE_NAMES.get(m, f"m={m}")
        self.current.elements.append(
            Barcode(kind, text, self.barcode_height, self.barcode_hri, self.align)
        )

    def _cut(self, args: bytes) -> SimReceipt:
        m = args[0]
        self._flush_partial()
        if m in (65, 66, 97, 98, 103, 104) and len(args) > 1 and args[1]:
            self.current.elements.append(Feed(args[1]))
        done = self.current
        done.cut = "full" if m in (0, 48, 65, 97, 103) else "partial"
        self.count += 1
        self.current = SimReceipt(self.count + 1)
        return done
