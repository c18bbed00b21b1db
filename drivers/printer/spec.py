"""Options of the ESC/POS receipt printer driver (dependency-free: msgspec only)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from msgspec import Meta

from drivers.spec import DriverOptions


class PrinterOptions(DriverOptions, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A receipt printer on TCP (port 9100), USB or a serial line."""

    KIND: ClassVar[str] = "printer"
    SCHEMES: ClassVar[tuple[str, ...]] = ("socket", "tcp", "usb", "serial")
    CAPABILITIES: ClassVar[tuple[str, ...]] = ("printer", "printer_status")

    paper: Annotated[Literal[58, 80], Meta(description="paper width in mm")] = 80
    qr: Annotated[
        Literal["native", "image"],
        Meta(description="QR codes with GS ( k, or as an image for printers without it"),
    ] = "native"
    timeout: Annotated[
        float, Meta(gt=0, le=60, description="seconds to wait for a status answer")
    ] = 1.0
