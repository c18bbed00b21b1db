"""Which module builds the polled driver of each device kind named in a device config."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from drivers.base import PolledDriver
from drivers.errors import DriverError
from drivers.spec import DriverOptions

DRIVER_KINDS: dict[str, str] = {
    "idcard": "drivers.idcard.polled",
    "fingerprint": "drivers.fingerprint.polled",
    "smartcard": "drivers.smartcard.polled",
    "camera": "drivers.camera.polled",
    "printer": "drivers.printer.polled",
    "modbus": "drivers.modbus.polled",
    "gnss": "drivers.gnss.polled",
}


class UnknownDriverKind(DriverError):
    """A device config names a driver kind this build does not have."""


def create_driver(
    kind: str, url: str, options: DriverOptions | Mapping[str, Any]
) -> PolledDriver:
    """Build (but do not open) the driver of ``kind`` for the device at ``url``."""
    module = DRIVER_KINDS.get(kind)
    if module is None:
        raise UnknownDriverKind(f"unknown driver kind {kind!r}; known: {', '.join(DRIVER_KINDS)}")
    factory = importlib.import_module(module).create
    driver: PolledDriver = factory(url, options)
    return driver
