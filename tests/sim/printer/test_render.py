"""Receipt PNGs: readable size, CJK font, QR redrawn from its payload, font fallback."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from drivers.printer.receipt import parse_receipt
from drivers.printer.render import render_receipt
from drivers.printer.sample import sample_receipt
from sim.printer import render
from sim.printer.page import PageBuilder, SimReceipt
from sim.printer.parser import EscPosParser


def build(data: bytes) -> SimReceipt:
    parser, builder = EscPosParser(), PageBuilder()
    for event in parser.feed(data):
        done = builder.apply(event)
        if done is not None:
            return done
    raise AssertionError("no cut in the stream")


@pytest.mark.parametrize(("paper", "dots"), [(58, 384), (80, 576)])
def test_sample_receipt_png(tmp_path: Path, paper: int, dots: int) -> None:
    receipt = build(render_receipt(parse_receipt(sample_receipt(paper))))
    path = render.render_png(receipt, tmp_path / "r.png", dots=dots)
    with Image.open(path) as image:
        assert image.width == dots + 2 * render.MARGIN
        assert image.height > 600
        picture = np.array(image.convert("L"))
    payload, _, _ = cv2.QRCodeDetector().detectAndDecode(picture)
    assert payload == "https://zwfw.example.gov.cn/q/GZ-2026-000123"


def test_the_cjk_font_is_monospaced_on_the_printer_grid() -> None:
    font = render.load_font()
    assert font.getlength("A") == render.CELL_W
    assert font.getlength("中") == 2 * render.CELL_W


def test_falls_back_without_cjk_fonts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "_FONT_FILES", (str(tmp_path / "none-{}.ttc"),))
    render.load_font.cache_clear()
    try:
        receipt = build(b"fallback\n" + bytes.fromhex("1d 56 00"))
        path = render.render_png(receipt, tmp_path / "f.png", dots=384)
        with Image.open(path) as image:
            assert image.convert("L").getextrema()[0] == 0
    finally:
        render.load_font.cache_clear()
