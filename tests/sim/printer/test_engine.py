"""The simulated printer's answers to DLE EOT (bytes from the ESC/POS reference) and its buffer."""

from __future__ import annotations

from pathlib import Path

from sim.printer.engine import PrinterEngine
from sim.printer.parser import EscPosParser


def ask(engine: PrinterEngine, data: bytes) -> bytes:
    return engine.handle(EscPosParser().feed(data))


def test_status_answers() -> None:
    engine = PrinterEngine()
    assert ask(engine, bytes.fromhex("10 04 01 10 04 02 10 04 03 10 04 04")) == bytes([0x12] * 4)
    engine.set_state(paper_out=True)
    assert ask(engine, bytes.fromhex("10 04 04")) == b"\x72"  # bits 5-6: paper out
    assert ask(engine, bytes.fromhex("10 04 01")) == b"\x1a"  # bit 3: offline
    assert ask(engine, bytes.fromhex("10 04 02")) == b"\x32"  # bit 5: stopped at paper end
    engine.set_state(paper_out=False, cover_open=True)
    assert ask(engine, bytes.fromhex("10 04 02")) == b"\x16"  # bit 2: cover open
    engine.set_state(cover_open=False, cutter_error=True)
    assert ask(engine, bytes.fromhex("10 04 03")) == b"\x1a"  # bit 3: autocutter error
    engine.set_state(cutter_error=False, paper_near_end=True)
    assert ask(engine, bytes.fromhex("10 04 04")) == b"\x1e"  # bits 2-3: near end
    assert ask(engine, bytes.fromhex("10 04 01")) == b"\x12"  # still online


def test_unknown_status_numbers_get_no_answer() -> None:
    engine = PrinterEngine()
    assert ask(engine, bytes.fromhex("10 04 07")) == b""
    assert engine.counters["unknown_status"] == 1


def test_data_sent_while_offline_is_printed_when_paper_is_loaded(tmp_path: Path) -> None:
    engine = PrinterEngine(out_dir=tmp_path)
    engine.set_state(paper_out=True)
    ask(engine, b"held\n" + bytes.fromhex("1d 56 00"))
    assert engine.receipts == []
    assert engine.snapshot()["held_events"] == 3
    engine.set_state(paper_out=False)
    (receipt,) = engine.wait_for_receipts(1, timeout=0)
    assert receipt.text_lines == ["held"]
    assert receipt.png is not None and Path(receipt.png).exists()
