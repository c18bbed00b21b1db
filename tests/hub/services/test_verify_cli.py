"""Reading a proof's QR code from a receipt image (``govedge verify-proof --image``)."""

from __future__ import annotations

from pathlib import Path

from drivers.printer.receipt import parse_receipt
from drivers.printer.render import render_receipt
from hub.services.verify_cli import read_qr_image
from sim.printer.engine import PrinterEngine
from sim.printer.parser import EscPosParser

# A payload whose printed code OpenCV's classic QR detector does not find at all (its finder
# patterns sit beside dense data); about one receipt in fifteen is like it.
HARD = (
    "GE1:SN21KQAZ2$:.+XRBCE7$8$W7HTC3NTL*ME+00V2AGZ20E5XB2XCDSIFVWNKP-4C%BC/*J$R*UN1V16.+ .*R$LL4"
    "-QC:WV% .ZWU%/ S%UAH/XJ P%YGGJ0%2TTMEWSD:UL:+9OR3-7M0GY3JO0KLJ$3D5L7.-48:IQ%LE1-::BW -NJIOQX"
    "T4CQE%2*F+EFPOD*9JN0/JSVA/91NRZLWVK%7$-IZ.HR0J5+V7WE%-GRNE36%WWWA8I34D0/3R14302YLL1*0ZDUCHI$"
    "ZXGEBDP3FZ:S2LKQ71 BW+5BDEBJ"
)


def test_a_code_the_classic_detector_misses_is_still_read(tmp_path: Path) -> None:
    receipt = {
        "paper": 80,
        "header": ["市政务服务中心", "居住证明"],
        "lines": [{"key": "姓名", "value": "张*"}],
        "qr": {"data": HARD, "size": 4, "ec": "M", "caption": "扫码核验 /verify"},
        "cut": True,
    }
    engine = PrinterEngine(out_dir=tmp_path)
    engine.handle(EscPosParser().feed(render_receipt(parse_receipt(receipt), qr_mode="image")))
    png = engine.receipts[0].png
    assert png is not None
    assert read_qr_image(Path(png)) == HARD
