"""Receipt data: strict parsing, display columns, wrapping and key-value rows."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.printer.errors import ReceiptError
from drivers.printer.receipt import PAPERS, KeyValue, QrBlock, Rule, TextBlock, parse_receipt
from drivers.printer.render import key_value_lines, render_receipt
from drivers.printer.sample import sample_receipt
from drivers.printer.text import display_width, wrap


def test_papers() -> None:
    assert (PAPERS[58].columns, PAPERS[58].dots) == (32, 384)
    assert (PAPERS[80].columns, PAPERS[80].dots) == (48, 576)


def test_display_width_counts_cjk_as_two() -> None:
    assert display_width("abc") == 3
    assert display_width("中文") == 4
    assert display_width("，。：") == 6
    assert display_width("B12 号窗口") == 10


def test_wrap_cjk_and_words() -> None:
    assert wrap("中华人民共和国", 6) == ["中华人", "民共和", "国"]
    assert wrap("hello world again", 11) == ["hello world", "again"]
    assert wrap("a\nb", 10) == ["a", "b"]
    assert wrap("", 10) == [""]
    assert wrap("中a文", 3) == ["中a", "文"]


@settings(deadline=None, max_examples=200)
@given(st.text(max_size=120), st.integers(2, 48))
def test_wrap_never_exceeds_the_columns(text: str, columns: int) -> None:
    for line in wrap(text, columns):
        assert display_width(line) <= columns
        assert all(ord(ch) >= 0x20 and not 0x7F <= ord(ch) < 0xA0 for ch in line)


def test_key_value_rows_fill_the_line() -> None:
    assert key_value_lines("编号", "A1", 32) == ["编号" + " " * 26 + "A1"]
    long = key_value_lines("地址", "某某省某某市某某区某某街道某某社区一百二十三号", 32)
    assert long[0] == "地址"
    assert all(display_width(line) == 32 for line in long[1:])


def test_parse_receipt() -> None:
    receipt = parse_receipt(
        {
            "paper": "58mm",
            "header": "标题",
            "lines": ["x", {"key": "k", "value": "v"}, {"rule": "="},
                      {"text": "t", "align": "center", "bold": True}],
            "qr": "data",
        }
    )  # fmt: skip
    assert receipt.paper.columns == 32
    assert receipt.header == ("标题",)
    assert receipt.lines == (
        TextBlock("x"), KeyValue("k", "v"), Rule("="), TextBlock("t", "center", True)
    )  # fmt: skip
    assert receipt.qr == QrBlock("data")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"colour": "red"}, "'colour'"),
        ({"paper": 76}, "58 or 80"),
        ({"lines": "not a list"}, "must be a list"),
        ({"lines": [{"text": "x", "size": 3}]}, "'size'"),
        ({"lines": [{"what": 1}]}, "needs one of"),
        ({"lines": [{"text": "x", "align": "middle"}]}, "align"),
        ({"qr": {"data": "x", "size": 17}}, "qr.size"),
        ({"qr": {"data": ""}}, "qr.data"),
        ({"qr": {"data": "x", "ec": "Z"}}, "qr.ec"),
        ({"barcode": "中文"}, "barcode"),
        ({"cut": "yes"}, "cut"),
        ({"header": [1]}, "header[0]"),
    ],
)
def test_bad_receipts_name_what_is_wrong(data: dict[str, object], message: str) -> None:
    with pytest.raises(ReceiptError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_receipt(data)


def test_sample_receipt_renders_on_both_papers() -> None:
    for paper in (58, 80):
        data = render_receipt(parse_receipt(sample_receipt(paper)))
        assert data.startswith(b"\x1b@") and data.endswith(b"\x1dVB\x00")


def test_image_qr_wider_than_the_paper_is_a_receipt_error() -> None:
    receipt = parse_receipt({"paper": 58, "qr": {"data": "x" * 300, "size": 16}})
    with pytest.raises(ReceiptError, match="wider than the paper"):
        render_receipt(receipt, qr_mode="image")
