"""Printer URLs and the character-device transport (driven through the pty simulator)."""

from __future__ import annotations

import pytest

from drivers.printer.errors import PrinterTransportError
from drivers.printer.transport import (
    DeviceFileTransport,
    describe,
    parse_tcp_url,
    parse_usb_url,
)
from sim.printer.pty import PtyPrinterSimulator


def test_describe() -> None:
    assert describe("tcp://10.0.0.5:9100") == "tcp"
    assert describe("socket://10.0.0.5:9100") == "tcp"
    assert describe("/dev/usb/lp0") == "usblp"
    assert describe("usb://04b8:0202") == "usb"
    assert describe("/dev/ttyUSB0?baudrate=115200") == "serial"
    assert describe("serial:///dev/ttyS0?baud=9600") == "serial"


def test_tcp_urls() -> None:
    assert parse_tcp_url("tcp://10.0.0.5") == ("10.0.0.5", 9100)
    assert parse_tcp_url("tcp://printer.hall.local:9101") == ("printer.hall.local", 9101)
    with pytest.raises(PrinterTransportError, match="no host"):
        parse_tcp_url("tcp://:9100")
    with pytest.raises(PrinterTransportError, match="bad port"):
        parse_tcp_url("tcp://host:port")


def test_usb_urls() -> None:
    assert parse_usb_url("usb://04b8:0202") == (0x04B8, 0x0202, {})
    assert parse_usb_url("usb://0416:5011?in_ep=0x81&out_ep=0x03") == (
        0x0416, 0x5011, {"in_ep": 0x81, "out_ep": 0x03}
    )  # fmt: skip
    with pytest.raises(PrinterTransportError, match="unknown USB option"):
        parse_usb_url("usb://04b8:0202?speed=high")
    with pytest.raises(PrinterTransportError, match="VID:PID"):
        parse_usb_url("usb://epson")


def test_character_device_transport(pty_printer: PtyPrinterSimulator) -> None:
    link = DeviceFileTransport(pty_printer.path, timeout=1.0)
    try:
        link.write(bytes.fromhex("10 04 04"))
        assert link.read(1) == b"\x12"
        pty_printer.engine.set_state(paper_out=True)
        link.reset_input_buffer()
        link.write(bytes.fromhex("10 04 04"))
        assert link.read(1) == b"\x72"
        link.timeout = 0.05
        assert link.read(1) == b""  # nothing more to read
    finally:
        link.close()
