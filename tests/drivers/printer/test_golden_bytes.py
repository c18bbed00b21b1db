"""Golden ESC/POS byte vectors, written by hand from the Epson ESC/POS command reference.

None of the expected values below comes from our encoder: each is spelled out from the
command tables (ESC @ = 1B 40, FS & = 1C 26, GS ( k pL pH cn fn ..., GS V m n, DLE EOT n) and,
for Chinese, from the GB2312/GB18030 code tables (中 = D6 D0, 文 = CE C4, ...).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.printer import commands as cmd
from drivers.printer.receipt import parse_receipt
from drivers.printer.render import render_receipt
from drivers.printer.text import clean, encode_line


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def test_basic_commands() -> None:
    assert h("1b 40") == cmd.INIT
    assert h("1c 26") == cmd.CHINESE_ON
    assert h("1c 2e") == cmd.CHINESE_OFF
    assert cmd.align(cmd.ALIGN_CENTER) == h("1b 61 01")
    assert cmd.bold(True) == h("1b 45 01")
    assert cmd.char_size(2, 2) == h("1d 21 11")
    assert cmd.char_size(1, 1) == h("1d 21 00")
    assert cmd.feed_lines(3) == h("1b 64 03")


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_dle_eot(n: int) -> None:
    assert cmd.status_request(n) == bytes([0x10, 0x04, n])


def test_dle_eot_rejects_other_n() -> None:
    with pytest.raises(ValueError):
        cmd.status_request(5)


def test_code128_barcode() -> None:
    # GS k m=73 n=5 "{B" "A12"
    assert cmd.barcode_code128("A12") == h("1d 6b 49 05 7b 42 41 31 32")


def test_chinese_text_in_chinese_mode() -> None:
    assert encode_line("中文") == h("1c 26 d6 d0 ce c4 1c 2e")


def test_fullwidth_punctuation_alone_is_gb18030_not_question_marks() -> None:
    # ，U+FF0C = A3 AC; 。U+3002 = A1 A3; ：U+FF1A = A3 BA
    assert encode_line("，。：") == h("1c 26 a3 ac a1 a3 a3 ba 1c 2e")
    assert b"?" not in encode_line("，。：")


def test_ascii_stays_single_byte_and_mixed_lines_use_chinese_mode() -> None:
    assert encode_line("No. 12") == b"No. 12"
    assert encode_line("B12 号") == h("1c 26 42 31 32 20 ba c5 1c 2e")


def test_four_byte_gb18030() -> None:
    # U+20000 (CJK Ext. B) is the four-byte sequence 95 32 82 36 in GB18030.
    assert encode_line("\U00020000") == h("1c 26 95 32 82 36 1c 2e")


def test_control_characters_cannot_inject_commands() -> None:
    assert encode_line("a\x1b@b\x1dV") == b"a @b V"


def test_native_qr_sequence() -> None:
    receipt = parse_receipt({"paper": 80, "qr": {"data": "govedge", "size": 6, "ec": "M"},
                             "cut": False})  # fmt: skip
    expected = (
        h("1b 40")
        + h("1b 61 01")
        + h("1d 28 6b 04 00 31 41 32 00")  # model 2
        + h("1d 28 6b 03 00 31 43 06")  # module size 6 dots
        + h("1d 28 6b 03 00 31 45 31")  # error correction M (49)
        + h("1d 28 6b 0a 00 31 50 30")  # store: pL = 7 + 3 = 0x0a, pH = 0
        + b"govedge"
        + h("1d 28 6b 03 00 31 51 30")  # print
        + h("0a")
        + h("1b 61 00")
    )
    assert render_receipt(receipt) == expected


def test_reference_receipt_exact_bytes() -> None:
    receipt = parse_receipt(
        {
            "paper": 58,
            "header": ["回执"],
            "lines": [{"key": "编号", "value": "A1"}, {"rule": "-"}, "OK"],
            "qr": {"data": "AB", "size": 4, "ec": "L"},
            "footer": ["谢谢"],
            "cut": True,
        }
    )
    expected = (
        h("1b 40")  # ESC @
        + h("1b 61 01")  # ESC a 1: centre
        + h("1b 45 01 1d 21 11")  # ESC E 1, GS ! 0x11: bold, double width and height
        + h("1c 26 bb d8 d6 b4 1c 2e 0a")  # FS & 回执 FS . LF
        + h("1d 21 00 1b 45 00")  # normal size, bold off
        + h("1b 61 00")  # left
        + h("1c 26 b1 e0 ba c5")  # FS & 编号 (4 columns)
        + b" " * 26  # 32 - 4 - 2 columns of padding
        + b"A1"
        + h("1c 2e 0a")
        + b"-" * 32
        + h("0a")
        + b"OK\n"
        + h("1b 61 01")
        + h("1d 28 6b 04 00 31 41 32 00")
        + h("1d 28 6b 03 00 31 43 04")
        + h("1d 28 6b 03 00 31 45 30")  # L = 48
        + h("1d 28 6b 05 00 31 50 30 41 42")  # store "AB": pL = 2 + 3
        + h("1d 28 6b 03 00 31 51 30")
        + h("0a")
        + h("1b 61 00")
        + h("1b 61 01")
        + h("1c 26 d0 bb d0 bb 1c 2e 0a")  # 谢谢
        + h("1b 61 00")
        + h("1d 56 42 00")  # GS V 66 0: feed to the cutter and cut
    )
    assert render_receipt(receipt) == expected


def test_image_qr_fallback_is_a_raster_image_not_gs_k() -> None:
    receipt = parse_receipt({"paper": 58, "qr": "https://example.gov.cn/q/1", "cut": False})
    data = render_receipt(receipt, qr_mode="image")
    assert h("1d 28 6b") not in data
    start = data.index(h("1d 76 30 00"))  # GS v 0, m = 0 (normal density)
    width_bytes = data[start + 4] | data[start + 5] << 8
    height = data[start + 6] | data[start + 7] << 8
    assert 0 < width_bytes * 8 <= 384
    assert len(data) >= start + 8 + width_bytes * height


@settings(deadline=None, max_examples=300)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40))
def test_any_text_encodes_without_control_bytes(text: str) -> None:
    data = encode_line(text)
    body = data[2:-2] if data.startswith(cmd.CHINESE_ON) else data
    assert all(b >= 0x20 for b in body)
    if not clean(text).isascii():  # C0/C1 controls become spaces first
        assert data.startswith(cmd.CHINESE_ON) and data.endswith(cmd.CHINESE_OFF)
