"""Receipt layouts as data: what a kiosk app hands to ``print_receipt``.

A receipt is a mapping::

    {
        "paper": 80,                                  # 58 or 80 (mm); optional
        "header": ["某市政务服务中心", "办事回执"],     # centred; the first line large and bold
        "lines": [
            {"key": "办理事项", "value": "居住证签注"},  # key left, value right
            {"rule": "-"},                            # a full-width rule
            "plain text, wrapped to the paper",
            {"text": "centred bold", "align": "center", "bold": True, "double": False},
            {"feed": 1},                              # blank lines
        ],
        "qr": {"data": "https://...", "size": 6, "ec": "M", "caption": "扫码查询"},  # or a str
        "barcode": "A123456",                         # CODE128, ASCII; optional
        "footer": ["请妥善保管本回执"],                # centred
        "cut": True,
    }

``parse_receipt`` checks it strictly (an unknown key is an error naming the key) and returns
frozen dataclasses; ``render`` turns those into bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from drivers.printer.errors import ReceiptError


@dataclass(frozen=True, slots=True)
class Paper:
    """A paper width: its name in mm, its columns of Font A (12 dots) and its printable dots."""

    mm: int
    columns: int
    dots: int


PAPERS: Final = {58: Paper(58, 32, 384), 80: Paper(80, 48, 576)}


@dataclass(frozen=True, slots=True)
class TextBlock:
    """A paragraph of receipt text."""

    text: str
    align: str = "left"
    bold: bool = False
    double: bool = False


@dataclass(frozen=True, slots=True)
class KeyValue:
    """A key and its value on one receipt line."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Rule:
    """A horizontal rule across the paper."""

    char: str = "-"


@dataclass(frozen=True, slots=True)
class Feed:
    """Blank lines."""

    lines: int = 1


@dataclass(frozen=True, slots=True)
class QrBlock:
    """A QR code, with an optional caption below it."""

    data: str
    size: int = 6
    ec: str = "M"
    caption: str = ""


Block = TextBlock | KeyValue | Rule | Feed


@dataclass(frozen=True, slots=True)
class Receipt:
    """A whole receipt: header, blocks, QR code, barcode and footer."""

    paper: Paper
    header: tuple[str, ...] = ()
    lines: tuple[Block, ...] = ()
    qr: QrBlock | None = None
    barcode: str | None = None
    footer: tuple[str, ...] = ()
    cut: bool = True


_RECEIPT_KEYS: Final = {"paper", "header", "lines", "qr", "barcode", "footer", "cut"}
_ALIGNS: Final = ("left", "center", "right")
QR_MAX_BYTES: Final = 7089  # GS ( k store: the largest QR (version 40, numeric) holds 7089


def paper_for(value: Any) -> Paper:
    """The paper for 58, 80, "58", "80mm"; ReceiptError otherwise."""
    text = str(value).strip().lower().removesuffix("mm")
    if text.isdigit() and int(text) in PAPERS:
        return PAPERS[int(text)]
    raise ReceiptError(f"paper must be 58 or 80 (mm), not {value!r}")


def parse_receipt(data: Mapping[str, Any], *, default_paper: int = 80) -> Receipt:
    """Check a receipt mapping and return it as a Receipt; ReceiptError names what is wrong."""
    if not isinstance(data, Mapping):
        raise ReceiptError("a receipt must be a mapping")
    unknown = sorted(set(data) - _RECEIPT_KEYS)
    if unknown:
        raise ReceiptError(f"unknown receipt key {unknown[0]!r}; known: {sorted(_RECEIPT_KEYS)}")
    paper = paper_for(data.get("paper", default_paper))
    qr = data.get("qr")
    barcode = data.get("barcode")
    if barcode is not None:
        barcode = _string(barcode, "barcode")
        if not barcode.isascii() or not barcode.isprintable() or not 0 < len(barcode) <= 64:
            raise ReceiptError("barcode must be 1-64 printable ASCII characters")
    lines = _list(data.get("lines", ()), "lines")
    cut = data.get("cut", True)
    if not isinstance(cut, bool):
        raise ReceiptError("cut must be true or false")
    return Receipt(
        paper=paper,
        header=_strings(data.get("header", ()), "header"),
        lines=tuple(_block(item, i) for i, item in enumerate(lines)),
        qr=None if qr is None else _qr(qr),
        barcode=barcode,
        footer=_strings(data.get("footer", ()), "footer"),
        cut=cut,
    )


def _list(value: Any, where: str) -> Sequence[Any]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ReceiptError(f"{where} must be a list")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ReceiptError(f"{where} must be a string, not {type(value).__name__}")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(_string(v, f"{where}[{i}]") for i, v in enumerate(_list(value, where)))


def _block(item: Any, index: int) -> Block:
    where = f"lines[{index}]"
    if isinstance(item, str):
        return TextBlock(item)
    if not isinstance(item, Mapping):
        raise ReceiptError(f"{where} must be a string or a mapping")
    keys = set(item)
    if "key" in keys:
        _only(keys, {"key", "value"}, where)
        return KeyValue(_string(item["key"], where + ".key"), _string(item.get("value", ""), where))
    if "rule" in keys:
        _only(keys, {"rule"}, where)
        char = _string(item["rule"], where + ".rule") or "-"
        if len(char) != 1 or not char.isprintable():
            raise ReceiptError(f"{where}.rule must be one printable character")
        return Rule(char)
    if "feed" in keys:
        _only(keys, {"feed"}, where)
        lines = item["feed"]
        if not isinstance(lines, int) or isinstance(lines, bool) or not 0 <= lines <= 10:
            raise ReceiptError(f"{where}.feed must be 0-10 lines")
        return Feed(lines)
    if "text" in keys:
        _only(keys, {"text", "align", "bold", "double"}, where)
        align = item.get("align", "left")
        if align not in _ALIGNS:
            raise ReceiptError(f"{where}.align must be one of {', '.join(_ALIGNS)}")
        bold, double = item.get("bold", False), item.get("double", False)
        if not isinstance(bold, bool) or not isinstance(double, bool):
            raise ReceiptError(f"{where}.bold and .double must be true or false")
        return TextBlock(_string(item["text"], where + ".text"), align, bold, double)
    raise ReceiptError(f"{where} needs one of text, key, rule, feed")


def _only(keys: set[str], allowed: set[str], where: str) -> None:
    extra = sorted(keys - allowed)
    if extra:
        raise ReceiptError(f"unknown key {extra[0]!r} in {where}")


def _qr(value: Any) -> QrBlock:
    if isinstance(value, str):
        value = {"data": value}
    if not isinstance(value, Mapping):
        raise ReceiptError("qr must be a string or a mapping")
    _only(set(value), {"data", "size", "ec", "caption"}, "qr")
    data = _string(value.get("data"), "qr.data")
    if not data or len(data.encode("utf-8")) > QR_MAX_BYTES:
        raise ReceiptError(f"qr.data must be 1-{QR_MAX_BYTES} bytes")
    size = value.get("size", 6)
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 16:
        raise ReceiptError("qr.size must be 1-16 (dots per module)")
    ec = str(value.get("ec", "M")).upper()
    if ec not in ("L", "M", "Q", "H"):
        raise ReceiptError("qr.ec must be L, M, Q or H")
    return QrBlock(data, size, ec, _string(value.get("caption", ""), "qr.caption"))
