"""The real driver against the printer simulator over TCP and a pty: nothing faked on the wire."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from drivers.base import PolledDriver, PrinterCapability
from drivers.errors import DriverError
from drivers.printer.device import EscposPrinter
from drivers.printer.errors import (
    BadStatusByte,
    CoverOpen,
    PaperOut,
    PrinterFault,
    PrinterNotFound,
    PrinterTimeout,
    ReceiptError,
)
from drivers.printer.polled import create
from govedge.errors import ConfigError
from govedge.health import HealthState
from sim.printer.pty import PtyPrinterSimulator
from sim.printer.server import PrinterSimulator

RECEIPT = {
    "paper": 58,
    "header": ["政务服务中心", "办事回执"],
    "lines": [
        {"key": "办理事项", "value": "居住证签注"},
        {"rule": "-"},
        "请凭本回执领取。",
        "，。：",
        "Window B12",
    ],
    "qr": {"data": "https://zwfw.example.gov.cn/q/123", "caption": "扫码查询"},
    "footer": ["谢谢！"],
}
EXPECTED_LINES = [
    "政务服务中心",
    "办事回执",
    "办理事项" + " " * 14 + "居住证签注",
    "-" * 32,
    "请凭本回执领取。",
    "，。：",
    "Window B12",
    "",  # the line feed after the QR code
    "扫码查询",
    "谢谢！",
]


@pytest.fixture
def driver(printer_sim: PrinterSimulator) -> Iterator[object]:
    polled = create(printer_sim.url, {"paper": 58})
    polled.open()
    yield polled
    polled.close()


def test_create_checks_options() -> None:
    with pytest.raises(ConfigError, match="unknown field `colour`"):
        create("tcp://127.0.0.1:9100", {"colour": "red"})
    with pytest.raises(ConfigError, match=r"options\.paper"):
        create("tcp://127.0.0.1:9100", {"paper": 76})
    with pytest.raises(ConfigError, match=r"options\.qr"):
        create("tcp://127.0.0.1:9100", {"qr": "svg"})
    with pytest.raises(ConfigError, match=r"options\.timeout"):
        create("tcp://127.0.0.1:9100", {"timeout": 0})


def test_is_a_polled_driver_and_a_printer(driver: object) -> None:
    assert isinstance(driver, PolledDriver)
    assert isinstance(driver, PrinterCapability)


def test_printed_text_qr_and_cut_arrive_decoded(
    driver: object, printer_sim: PrinterSimulator
) -> None:
    assert isinstance(driver, PrinterCapability)
    driver.print_receipt(RECEIPT)
    (receipt,) = printer_sim.wait_for_receipts(1)
    assert receipt.text_lines == EXPECTED_LINES
    assert receipt.qr_payloads == ["https://zwfw.example.gov.cn/q/123"]
    assert receipt.cut == "partial"
    assert receipt.png is not None
    with Image.open(receipt.png) as image:
        assert image.width == 576 + 32  # the simulator's 80 mm paper plus margins
        assert image.height > 300
        assert image.convert("L").getextrema()[0] == 0  # something was drawn


def test_image_qr_fallback_carries_the_payload(printer_sim: PrinterSimulator) -> None:
    with EscposPrinter(printer_sim.url, paper=80, qr_mode="image") as printer:
        printer.print_receipt({"qr": {"data": "https://example.gov.cn/r/42", "size": 5}})
    (receipt,) = printer_sim.wait_for_receipts(1)
    assert receipt.qr_payloads == []
    (raster,) = receipt.images
    width = raster.width_bytes * 8
    bits = np.unpackbits(np.frombuffer(raster.data, dtype=np.uint8)).reshape(raster.height, width)
    picture = np.where(bits == 1, 0, 255).astype(np.uint8)
    framed = cv2.copyMakeBorder(picture, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=255)
    payload, _, _ = cv2.QRCodeDetector().detectAndDecode(framed)
    assert payload == "https://example.gov.cn/r/42"


def test_poll_reports_paper_out_within_one_period(
    driver: object, printer_sim: PrinterSimulator
) -> None:
    assert isinstance(driver, PolledDriver)
    assert driver.poll() == {"paper_out": 0, "paper_near_end": 0, "cover_open": 0, "online": 1}
    assert driver.health().state == HealthState.ONLINE
    printer_sim.set_state(paper_out=True)
    readings = driver.poll()  # the very next poll
    assert readings["paper_out"] == 1 and readings["online"] == 0
    assert driver.health().state == HealthState.USER_ERROR
    assert "paper out" in driver.health().detail
    printer_sim.set_state(paper_out=False, paper_near_end=True)
    assert driver.poll()["paper_near_end"] == 1
    assert driver.health().state == HealthState.ONLINE


def test_cover_open_and_cutter_error(driver: object, printer_sim: PrinterSimulator) -> None:
    assert isinstance(driver, PolledDriver)
    printer_sim.set_state(cover_open=True)
    assert driver.poll()["cover_open"] == 1
    assert driver.health().state == HealthState.USER_ERROR
    printer_sim.set_state(cover_open=False, cutter_error=True)
    driver.poll()
    assert driver.health().state == HealthState.HARDWARE_ERROR
    assert driver.health().counters["status_queries"] == 8


def test_printing_is_refused_while_paper_is_out(
    driver: object, printer_sim: PrinterSimulator
) -> None:
    assert isinstance(driver, PrinterCapability) and isinstance(driver, PolledDriver)
    printer_sim.set_state(paper_out=True)
    with pytest.raises(PaperOut) as caught:
        driver.print_receipt(RECEIPT)
    assert caught.value.health == HealthState.USER_ERROR
    assert driver.health().state == HealthState.USER_ERROR
    printer_sim.set_state(cover_open=True, paper_out=False)
    with pytest.raises(CoverOpen):
        driver.print_receipt(RECEIPT)
    printer_sim.set_state(cover_open=False, cutter_error=True)
    with pytest.raises(PrinterFault) as fault:
        driver.print_receipt(RECEIPT)
    assert fault.value.health == HealthState.HARDWARE_ERROR
    assert printer_sim.snapshot()["held_events"] == 0  # nothing was sent
    printer_sim.set_state(cutter_error=False)
    driver.print_receipt(RECEIPT)
    assert len(printer_sim.wait_for_receipts(1)) == 1


def test_bad_receipt_data_leaves_health_alone(driver: object) -> None:
    assert isinstance(driver, PrinterCapability) and isinstance(driver, PolledDriver)
    driver.poll()
    with pytest.raises(ReceiptError, match="'colour'"):
        driver.print_receipt({"colour": "red"})
    assert driver.health().state == HealthState.ONLINE


def test_reconnects_after_the_connection_drops(
    driver: object, printer_sim: PrinterSimulator
) -> None:
    assert isinstance(driver, PolledDriver)
    driver.poll()
    assert printer_sim.drop_connections() == 1
    assert driver.poll()["online"] == 1
    assert driver.health().counters["reconnects"] == 1


def test_nothing_listening_is_no_device() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    polled = create(f"tcp://127.0.0.1:{port}", {})
    with pytest.raises(PrinterNotFound):
        polled.open()
    assert polled.health().state == HealthState.NO_DEVICE


def test_a_silent_device_is_offline() -> None:
    """A TCP peer that takes bytes and never answers DLE EOT (a printer that is hung)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        accepted: list[socket.socket] = []
        thread = threading.Thread(target=lambda: accepted.append(server.accept()[0]))
        thread.start()
        polled = create(f"tcp://127.0.0.1:{server.getsockname()[1]}", {"timeout": 0.2})
        polled.open()
        thread.join(timeout=5)
        with pytest.raises(PrinterTimeout):
            polled.poll()
        assert polled.health().state == HealthState.OFFLINE
        assert polled.health().counters["status_timeouts"] == 1
        polled.close()
        for peer in accepted:
            peer.close()


def test_serial_printer_on_a_pty(pty_printer: PtyPrinterSimulator) -> None:
    polled = create(f"{pty_printer.path}?baudrate=115200", {"paper": 58})
    polled.open()
    try:
        assert polled.poll()["online"] == 1
        pty_printer.engine.set_state(paper_out=True)
        assert polled.poll()["paper_out"] == 1
        pty_printer.engine.set_state(paper_out=False)
        polled.print_receipt(RECEIPT)
        (receipt,) = pty_printer.engine.wait_for_receipts(1)
        assert receipt.text_lines == EXPECTED_LINES
    finally:
        polled.close()


def test_usb_forms(tmp_path: Path) -> None:
    with pytest.raises(PrinterNotFound):
        EscposPrinter(str(Path("/dev/usb/lp97")), timeout=0.1).open()
    with pytest.raises(PrinterNotFound, match="usb://04b8:0e15"):
        EscposPrinter("usb://04b8:0e15", timeout=0.1).open()


def test_a_device_answering_garbage_is_counted() -> None:
    """A TCP peer that answers every byte with 0xFF, which no DLE EOT answer can be."""
    with socket.create_server(("127.0.0.1", 0)) as server:

        def serve() -> None:
            peer, _ = server.accept()
            with peer:
                while data := peer.recv(64):
                    peer.sendall(b"\xff" * len(data))

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        polled = create(f"tcp://127.0.0.1:{server.getsockname()[1]}", {"timeout": 0.5})
        polled.open()
        with pytest.raises(BadStatusByte, match="0xff"):
            polled.poll()
        assert polled.health().counters["bad_status_bytes"] == 2  # asked twice, then gave up
        assert polled.health().errors == 1
        polled.close()
        thread.join(timeout=5)


def test_polling_and_printing_from_two_threads(
    driver: object, printer_sim: PrinterSimulator
) -> None:
    assert isinstance(driver, PolledDriver) and isinstance(driver, PrinterCapability)
    failures: list[BaseException] = []

    def printing() -> None:
        try:
            for _ in range(5):
                driver.print_receipt(RECEIPT)
        except BaseException as exc:  # pragma: no cover - reported below  # noqa: BLE001 - reported below
            failures.append(exc)

    thread = threading.Thread(target=printing)
    thread.start()
    for _ in range(20):
        assert driver.poll()["online"] == 1
    thread.join(timeout=30)
    assert failures == []
    receipts = printer_sim.wait_for_receipts(5)
    assert [r.text_lines for r in receipts] == [EXPECTED_LINES] * 5
    assert driver.health().counters["bad_status_bytes"] == 0


def test_a_vanished_serial_printer_is_a_driver_error(pty_printer: PtyPrinterSimulator) -> None:
    polled = create(pty_printer.path, {"timeout": 0.3})
    polled.open()
    assert polled.poll()["online"] == 1
    pty_printer.stop()  # the other end of the pty goes away
    with pytest.raises(DriverError):
        polled.poll()
    assert polled.health().state in (HealthState.OFFLINE, HealthState.NO_DEVICE)
    polled.close()
