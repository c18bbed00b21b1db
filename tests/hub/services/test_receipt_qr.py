"""A proof issued through the API, printed by the real ESC/POS driver on the simulated printer
(over TCP), rendered to PNG by the simulator, and read back from the PNG by
``govedge verify-proof --image`` (OpenCV's QR detector)."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from drivers.printer.device import EscposPrinter
from govedge.cli import main
from sim.printer.server import PrinterSimulator


@pytest.fixture
def registry_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.db'}"


def proof_receipt(proof: dict[str, Any]) -> dict[str, Any]:
    """The receipt a kiosk prints for a proof: title, masked subject, times and the QR."""
    return {
        "paper": 80,
        "header": ["市政务服务中心", proof["title"]],
        "lines": [
            {"rule": "="},
            {"key": "姓名", "value": proof["subject_masked"]["name"]},
            {"key": "身份证号", "value": proof["subject_masked"]["id_number"]},
            {"key": "出具时间", "value": proof["issued_at"][:10]},
            {"key": "有效期至", "value": proof["expires_at"][:10]},
            {"rule": "-"},
        ],
        "qr": {"data": proof["qr_text"], "size": 4, "ec": "M", "caption": "扫码核验 /verify"},
        "footer": ["请妥善保管"],
        "cut": True,
    }


@pytest.mark.parametrize("qr_mode", ["native", "image"])
async def test_printed_receipt_verifies_from_its_png(
    services_hub: Any, proof_body: Any, tmp_path: Path, capsys: Any, qr_mode: str
) -> None:
    sh = await services_hub()
    status, proof = await sh.kiosk("POST", "/services/proofs", json=proof_body("print-1"))
    assert status == 201
    with PrinterSimulator(out_dir=tmp_path / "receipts") as sim:

        def print_it() -> None:
            with EscposPrinter(sim.url, paper=80, qr_mode=qr_mode) as printer:  # type: ignore[arg-type]
                printer.print_receipt(proof_receipt(proof))

        await asyncio.to_thread(print_it)
        receipt = (await asyncio.to_thread(sim.engine.wait_for_receipts, 1))[0]
    assert receipt.png is not None
    png = Path(receipt.png)
    capsys.readouterr()
    code = main(["verify-proof", "--image", str(png), "--trust", str(sh.trust_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("VALID") and proof["proof_id"] in out
    if qr_mode == "native" and (target := os.environ.get("GOVEDGE_SCREENSHOT_DIR")):
        shutil.copy(png, Path(target) / "proof-receipt.png")
    # An image without a QR code is a clear error, not a traceback.
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.new("L", (200, 200), 255).save(blank)
    assert main(["verify-proof", "--image", str(blank), "--trust", str(sh.trust_path)]) == 2
    assert "no QR code" in capsys.readouterr().err
