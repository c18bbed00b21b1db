"""Fixtures: a simulated printer on a free loopback TCP port, and one on a pty."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.printer.pty import PtyPrinterSimulator
from sim.printer.server import PrinterSimulator


@pytest.fixture
def printer_sim(tmp_path: Path) -> Iterator[PrinterSimulator]:
    with PrinterSimulator(out_dir=tmp_path / "receipts") as sim:
        yield sim


@pytest.fixture
def pty_printer(tmp_path: Path) -> Iterator[PtyPrinterSimulator]:
    with PtyPrinterSimulator(out_dir=tmp_path / "pty-receipts") as sim:
        yield sim
