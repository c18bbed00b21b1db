"""Receipt -> ESC/POS bytes (sans-I/O).

Text, styles and Chinese mode are written here from ``commands`` and ``text``; QR codes (native
GS ( k, or a raster image as fallback for printers without it) and the cut come from
python-escpos, whose printer class only needs ``_raw`` to collect its output.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from escpos.capabilities import Profile
from escpos.escpos import Escpos
from escpos.exceptions import ImageWidthError

from drivers.printer import commands as cmd
from drivers.printer.errors import ReceiptError
from drivers.printer.receipt import (
    Feed,
    KeyValue,
    Paper,
    QrBlock,
    Receipt,
    Rule,
    TextBlock,
)
from drivers.printer.text import char_width, display_width, encode_line, pad_between, wrap

QrMode = Literal["native", "image"]
QR_MODES: Final = ("native", "image")
_ALIGN: Final = {"left": cmd.ALIGN_LEFT, "center": cmd.ALIGN_CENTER, "right": cmd.ALIGN_RIGHT}
_EC_INDEX: Final = {"L": 0, "M": 1, "Q": 2, "H": 3}  # python-escpos QR_ECLEVEL_*


class CollectingPrinter(Escpos):  # type: ignore[misc]
    """A python-escpos printer whose output is kept in memory, with the paper's pixel width."""

    def __init__(self, paper: Paper) -> None:
        super().__init__()
        profile = Profile(columns=paper.columns)
        profile.profile_data = {
            **profile.profile_data,
            "media": {"dpi": 203, "width": {"mm": paper.mm, "pixels": paper.dots}},
        }
        self.profile = profile
        self.chunks: list[bytes] = []

    def _raw(self, msg: bytes) -> None:
        self.chunks.append(bytes(msg))

    def output(self) -> bytes:
        """Every byte the rendering produced so far, in order."""
        return b"".join(self.chunks)

    def close(self) -> None:
        """Nothing to release."""


def render_receipt(receipt: Receipt, *, qr_mode: QrMode = "native") -> bytes:
    """The bytes that print ``receipt``: ESC @, header, lines, QR, barcode, footer, cut."""
    if qr_mode not in QR_MODES:
        raise ReceiptError(f"qr mode must be native or image, not {qr_mode!r}")
    out = CollectingPrinter(receipt.paper)
    cols = receipt.paper.columns
    out._raw(cmd.INIT)
    if receipt.header:
        out._raw(cmd.align(cmd.ALIGN_CENTER))
        out._raw(cmd.bold(True) + cmd.char_size(2, 2))
        _lines(out, wrap(receipt.header[0], cols // 2))
        out._raw(cmd.char_size(1, 1) + cmd.bold(False))
        for line in receipt.header[1:]:
            _lines(out, wrap(line, cols))
        out._raw(cmd.align(cmd.ALIGN_LEFT))
    for block in receipt.lines:
        _block(out, block, cols)
    if receipt.qr is not None:
        _qr(out, receipt.qr, cols, qr_mode)
    if receipt.barcode is not None:
        out._raw(cmd.align(cmd.ALIGN_CENTER) + cmd.barcode_height(60) + cmd.barcode_hri_below())
        out._raw(cmd.barcode_code128(receipt.barcode) + cmd.align(cmd.ALIGN_LEFT))
    if receipt.footer:
        out._raw(cmd.align(cmd.ALIGN_CENTER))
        for line in receipt.footer:
            _lines(out, wrap(line, cols))
        out._raw(cmd.align(cmd.ALIGN_LEFT))
    if receipt.cut:
        out.cut(feed=False)  # GS V 66 0: feed to the cutter, then cut
    return out.output()


def _lines(out: CollectingPrinter, lines: list[str]) -> None:
    for line in lines:
        out._raw(encode_line(line) + cmd.LF)


def _block(out: CollectingPrinter, block: Any, cols: int) -> None:
    if isinstance(block, TextBlock):
        where = _ALIGN[block.align]
        prefix = (cmd.align(where) if where else b"") + (cmd.bold(True) if block.bold else b"")
        prefix += cmd.char_size(2, 2) if block.double else b""
        out._raw(prefix)
        _lines(out, wrap(block.text, cols // 2 if block.double else cols))
        suffix = (cmd.char_size(1, 1) if block.double else b"") + (
            cmd.bold(False) if block.bold else b""
        )
        out._raw(suffix + (cmd.align(cmd.ALIGN_LEFT) if where else b""))
    elif isinstance(block, KeyValue):
        _lines(out, key_value_lines(block.key, block.value, cols))
    elif isinstance(block, Rule):
        _lines(out, [block.char * (cols // char_width(block.char))])
    elif isinstance(block, Feed):
        if block.lines:
            out._raw(cmd.feed_lines(block.lines))
    else:  # pragma: no cover - parse_receipt only makes the four kinds
        raise ReceiptError(f"unknown block {block!r}")


def key_value_lines(key: str, value: str, cols: int) -> list[str]:
    """A key at the left and its value at the right; a long value wraps right-aligned below."""
    key_lines = wrap(key, cols)
    value_lines = wrap(value, cols)
    if (
        len(key_lines) == 1
        and len(value_lines) == 1
        and display_width(key_lines[0]) + 1 + display_width(value_lines[0]) <= cols
    ):
        return [pad_between(key_lines[0], value_lines[0], cols)]
    right = [" " * (cols - display_width(v)) + v for v in wrap(value, cols - 2)]
    return key_lines + right


def _qr(out: CollectingPrinter, qr: QrBlock, cols: int, mode: QrMode) -> None:
    out._raw(cmd.align(cmd.ALIGN_CENTER))
    if mode == "native":
        out.qr(qr.data, ec=_EC_INDEX[qr.ec], size=qr.size, native=True)
        out._raw(cmd.LF)
    else:
        try:
            out.qr(
                qr.data,
                ec=_EC_INDEX[qr.ec],
                size=qr.size,
                native=False,
                image_arguments={"impl": "bitImageRaster", "center": True},
            )
        except ImageWidthError:
            raise ReceiptError("the QR code is wider than the paper; lower qr.size") from None
    if qr.caption:
        _lines(out, wrap(qr.caption, cols))
    out._raw(cmd.align(cmd.ALIGN_LEFT))
