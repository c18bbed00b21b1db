"""A receipt -> a PNG a person can read: text on a grid of 12x24 dots, QR codes, images, bars.

Text is drawn with a monospaced CJK font (Noto Sans Mono CJK SC when fonts-noto-cjk is
installed, so that ASCII takes one 12-dot column and a Chinese character two, as on the
printer), falling back to Pillow's own font. QR codes are redrawn from their payload with the
``qrcode`` library at the module size the printer was given; barcodes with python-barcode's
patterns when it knows the symbology, else as a labelled box.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Final

import qrcode
from PIL import Image, ImageDraw, ImageFont, ImageOps

from sim.printer.page import Barcode, Feed, QrCode, Raster, SimReceipt, TextLine

CELL_W: Final = 12
CELL_H: Final = 24
LINE_H: Final = 30  # a 24-dot character plus the default line spacing
BASELINE: Final = 22
MARGIN: Final = 16
_FONT_FILES: Final = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-{}.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-{}.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-{}.ttc",
)
_QR_EC: Final = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}
_BARCODE_CLASSES: Final = {"CODE128": "code128", "EAN13": "ean13", "EAN8": "ean8",
                           "UPC-A": "upca", "CODE39": "code39", "ITF": "itf",
                           "CODABAR": "codabar"}  # fmt: skip

FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont


@lru_cache(maxsize=8)
def load_font(bold: bool = False, size: int = CELL_H) -> FontType:
    """The monospaced CJK font (bold if there is one), or Pillow's default font."""
    for pattern in _FONT_FILES:
        path = Path(pattern.format("Bold" if bold else "Regular"))
        if not path.exists():
            continue
        for index in range(16):
            try:
                font = ImageFont.truetype(str(path), size, index=index)
            except OSError:
                break
            family = font.getname()[0] or ""
            if "Mono" in family and "SC" in family:
                return font
        return ImageFont.truetype(str(path), size, index=2)  # Sans CJK SC: proportional
    return ImageFont.load_default(size=size)


def char_cells(ch: str) -> int:
    """How many cells ``ch`` takes on the paper: 2 for wide characters, else 1."""
    import unicodedata

    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _line_image(line: TextLine) -> Image.Image:
    parts: list[Image.Image] = []
    for text, bold, width, height in line.runs:
        cells = sum(char_cells(ch) for ch in text)
        run = Image.new("L", (max(1, cells * CELL_W), LINE_H), 255)
        draw = ImageDraw.Draw(run)
        font = load_font(bold)
        x = 0
        for ch in text:
            if ch != " ":
                draw.text((x, BASELINE), ch, font=font, fill=0, anchor="ls")
            x += char_cells(ch) * CELL_W
        if (width, height) != (1, 1):
            run = run.resize((run.width * width, LINE_H * height), Image.Resampling.BICUBIC)
        parts.append(run)
    height = max((p.height for p in parts), default=LINE_H)
    out = Image.new("L", (max(1, sum(p.width for p in parts)), height), 255)
    x = 0
    for part in parts:
        out.paste(part, (x, height - part.height))
        x += part.width
    return out


def _qr_image(code: QrCode) -> Image.Image:
    qr = qrcode.QRCode(
        box_size=max(1, code.size), border=0, error_correction=_QR_EC.get(code.ec, 1)
    )
    qr.add_data(code.data)
    qr.make(fit=True)
    image = qr.make_image(fill_color="black", back_color="white").get_image().convert("L")
    return ImageOps.expand(image, border=(0, 4), fill=255)


def _raster_image(raster: Raster) -> Image.Image:
    width, height = raster.width_bytes * 8, raster.height
    data = raster.data.ljust(raster.width_bytes * height, b"\x00")
    bits = Image.frombytes("1", (width, height), data)  # 1 = white in PIL, black on the printer
    image = ImageOps.invert(bits.convert("L"))
    if (raster.scale_x, raster.scale_y) != (1, 1):
        image = image.resize((width * raster.scale_x, height * raster.scale_y))
    return image


def _barcode_image(code: Barcode) -> Image.Image:
    height = max(8, code.height)
    pattern = ""
    name = _BARCODE_CLASSES.get(code.kind)
    if name:
        try:
            import barcode

            pattern = "".join(barcode.get_barcode_class(name)(code.data).build())
        except Exception:  # noqa: BLE001 - an invalid payload for the symbology: draw the labelled box
            pattern = ""
    label = Image.new("L", (max(1, len(code.data)) * CELL_W, LINE_H), 255)
    ImageDraw.Draw(label).text((0, BASELINE), code.data, font=load_font(), fill=0, anchor="ls")
    if pattern:
        bars = Image.new("L", (len(pattern) * 2, height), 255)
        draw = ImageDraw.Draw(bars)
        for i, bit in enumerate(pattern):
            if bit == "1":
                draw.rectangle((i * 2, 0, i * 2 + 1, height - 1), fill=0)
    else:
        bars = Image.new("L", (label.width + 8, height), 255)
        ImageDraw.Draw(bars).rectangle((0, 0, bars.width - 1, height - 1), outline=0)
        ImageDraw.Draw(bars).text((4, BASELINE), code.kind, font=load_font(), fill=0, anchor="ls")
    out = Image.new("L", (max(bars.width, label.width), height + LINE_H + 4), 255)
    out.paste(bars, ((out.width - bars.width) // 2, 0))
    if code.hri in (2, 3):
        out.paste(label, ((out.width - label.width) // 2, height + 4))
    return out


def render_png(receipt: SimReceipt, path: Path, *, dots: int = 576) -> Path:
    """Draw ``receipt`` on paper ``dots`` wide and save it as a PNG at ``path``."""
    blocks: list[tuple[Image.Image, int]] = []
    for element in receipt.elements:
        if isinstance(element, TextLine):
            blocks.append((_line_image(element), element.align))
        elif isinstance(element, QrCode):
            blocks.append((_qr_image(element), element.align))
        elif isinstance(element, Raster):
            blocks.append((_raster_image(element), element.align))
        elif isinstance(element, Barcode):
            blocks.append((_barcode_image(element), element.align))
        elif isinstance(element, Feed):
            blocks.append((Image.new("L", (1, max(1, element.dots)), 255), 0))
    cut_mark = 28
    height = sum(image.height for image, _ in blocks) + 2 * MARGIN + cut_mark
    page = Image.new("L", (dots + 2 * MARGIN, max(height, 64)), 255)
    y = MARGIN
    for image, align in blocks:
        if image.width > dots:
            image = image.crop((0, 0, dots, image.height))
        x = MARGIN + {0: 0, 1: (dots - image.width) // 2, 2: dots - image.width}.get(align, 0)
        page.paste(image, (x, y))
        y += image.height
    if receipt.cut:
        draw = ImageDraw.Draw(page)
        y = page.height - cut_mark // 2
        for x in range(0, page.width, 12):
            draw.line((x, y, x + 6, y), fill=128, width=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.save(path, "PNG")
    return path
