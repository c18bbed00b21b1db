"""``govedge device printer status|test`` against the simulator, in process."""

from __future__ import annotations

import json
import socket

import pytest

from govedge.cli import main
from sim.printer.server import PrinterSimulator


def test_status_json(printer_sim: PrinterSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["device", "printer", "status", printer_sim.url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["health"] == "online"
    assert data["online"] is True and data["paper_out"] is False
    assert data["raw"] == {
        "printer": "0x12", "offline_cause": "0x12", "error_cause": "0x12", "paper_sensor": "0x12"
    }  # fmt: skip


def test_status_text_with_paper_out(
    printer_sim: PrinterSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    printer_sim.set_state(paper_out=True)
    assert main(["device", "printer", "status", printer_sim.url]) == 0
    out = capsys.readouterr().out
    assert "user_error" in out and "paper out: yes" in out and "4=0x72" in out


def test_test_prints_a_chinese_receipt_with_qr_and_cut(
    printer_sim: PrinterSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["device", "printer", "test", printer_sim.url, "--paper", "58"]) == 0
    assert "printed the sample receipt" in capsys.readouterr().out
    (receipt,) = printer_sim.wait_for_receipts(1)
    assert receipt.text_lines[0] == "政务服务中心"
    assert "，。：" in receipt.text_lines
    assert receipt.qr_payloads == ["https://zwfw.example.gov.cn/q/GZ-2026-000123"]
    assert receipt.cut == "partial"


def test_test_with_paper_out_is_one_error_line(
    printer_sim: PrinterSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    printer_sim.set_state(paper_out=True)
    assert main(["device", "printer", "test", printer_sim.url]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("govedge: error: ") and "paper out" in err


def test_no_printer_is_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["device", "printer", "status", f"tcp://127.0.0.1:{port}"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "connection refused" in err


def test_bad_url_is_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["device", "printer", "status", "usb://nothex"]) == 1
    assert capsys.readouterr().err.startswith("govedge: error: USB printer URL")
