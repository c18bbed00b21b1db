"""Real-time status (DLE EOT n) decoded bit by bit, and mapped to health (sans-I/O).

Every DLE EOT answer is one byte of the form 0xx1xx10 (bit 0 = 0, bit 1 = 1, bit 4 = 1,
bit 7 = 0); a byte without that pattern is not a status answer.

- n = 1, printer: bit 2 drawer kick-out connector pin 3 high; bit 3 offline; bit 5 waiting
  for online recovery; bit 6 paper being fed by the FEED button.
- n = 2, offline cause: bit 2 cover open; bit 3 FEED button pressed; bit 5 printing stopped at
  paper end; bit 6 an error occurred.
- n = 3, error cause: bit 2 (model-specific, e.g. black-mark detection error); bit 3 autocutter
  error; bit 5 unrecoverable error; bit 6 automatically recoverable error (head too hot).
- n = 4, paper roll sensor: bits 2-3 paper near end; bits 5-6 paper out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

from drivers.printer.errors import BadStatusByte
from govedge.health import HealthState

FIXED_MASK: Final = 0x93  # bits 0, 1, 4, 7
FIXED_VALUE: Final = 0x12  # 0, 1, 1, 0


def check_status_byte(value: int, n: int) -> int:
    """Return ``value`` if it has the fixed bits of a DLE EOT answer, else raise BadStatusByte."""
    if not 0 <= value <= 0xFF or value & FIXED_MASK != FIXED_VALUE:
        raise BadStatusByte(f"status byte 0x{value & 0xFF:02x} for DLE EOT {n} is not 0xx1xx10")
    return value


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """The four status bytes decoded."""

    online: bool
    drawer_high: bool
    waiting_recovery: bool
    feed_button: bool
    cover_open: bool
    paper_stop: bool
    error: bool
    cutter_error: bool
    unrecoverable_error: bool
    recoverable_error: bool
    paper_near_end: bool
    paper_out: bool
    raw: tuple[int, int, int, int]

    def health(self) -> tuple[HealthState, str]:
        """The health state and a short reason a person can act on."""
        if self.cover_open:
            return HealthState.USER_ERROR, "cover open: close the printer cover"
        if self.paper_out:
            return HealthState.USER_ERROR, "paper out: load a paper roll"
        if self.cutter_error:
            return HealthState.HARDWARE_ERROR, "autocutter error: clear the cutter jam"
        if self.unrecoverable_error:
            return HealthState.HARDWARE_ERROR, "unrecoverable printer error: service the printer"
        if self.recoverable_error:
            return HealthState.BUSY, "printing paused (head temperature); recovers by itself"
        if not self.online:
            return HealthState.OFFLINE, "printer reports offline"
        if self.paper_near_end:
            return HealthState.ONLINE, "paper near end: replace the roll soon"
        return HealthState.ONLINE, ""

    def kiosk_state(self) -> tuple[str, str]:
        """The state a kiosk shows: ready, paper_out, paper_low, cover_open or offline (any
        fault or no answer), with the health's reason."""
        _, detail = self.health()
        if self.cover_open:
            state = "cover_open"
        elif self.paper_out:
            state = "paper_out"
        elif self.cutter_error or self.unrecoverable_error or not self.online:
            state = "offline"
        elif self.paper_near_end:
            state = "paper_low"
        else:
            state = "ready"
        return state, detail

    def readings(self) -> dict[str, float]:
        """The poll() readings: 0/1 flags."""
        return {
            "paper_out": int(self.paper_out),
            "paper_near_end": int(self.paper_near_end),
            "cover_open": int(self.cover_open),
            "online": int(self.online),
        }

    def as_dict(self) -> dict[str, Any]:
        """The decoded status as JSON-ready data, with the raw bytes in hex and the health it
        maps to."""
        data = asdict(self)
        data["raw"] = {
            "printer": f"0x{self.raw[0]:02x}",
            "offline_cause": f"0x{self.raw[1]:02x}",
            "error_cause": f"0x{self.raw[2]:02x}",
            "paper_sensor": f"0x{self.raw[3]:02x}",
        }
        state, detail = self.health()
        data["health"] = state.value
        data["detail"] = detail
        return data


def decode_printer(value: int) -> dict[str, bool]:
    """DLE EOT 1."""
    check_status_byte(value, 1)
    return {
        "drawer_high": bool(value & 0x04),
        "online": not value & 0x08,
        "waiting_recovery": bool(value & 0x20),
        "feed_button": bool(value & 0x40),
    }


def decode_offline_cause(value: int) -> dict[str, bool]:
    """DLE EOT 2."""
    check_status_byte(value, 2)
    return {
        "cover_open": bool(value & 0x04),
        "feed_button": bool(value & 0x08),
        "paper_stop": bool(value & 0x20),
        "error": bool(value & 0x40),
    }


def decode_error_cause(value: int) -> dict[str, bool]:
    """DLE EOT 3."""
    check_status_byte(value, 3)
    return {
        "cutter_error": bool(value & 0x08),
        "unrecoverable_error": bool(value & 0x20),
        "recoverable_error": bool(value & 0x40),
    }


def decode_paper_sensor(value: int) -> dict[str, bool]:
    """DLE EOT 4."""
    check_status_byte(value, 4)
    return {"paper_near_end": bool(value & 0x0C), "paper_out": bool(value & 0x60)}


def decode_status(printer: int, offline: int, error: int, paper: int) -> PrinterStatus:
    """Combine the answers to DLE EOT 1, 2, 3 and 4."""
    p = decode_printer(printer)
    o = decode_offline_cause(offline)
    e = decode_error_cause(error)
    s = decode_paper_sensor(paper)
    return PrinterStatus(
        online=p["online"],
        drawer_high=p["drawer_high"],
        waiting_recovery=p["waiting_recovery"],
        feed_button=p["feed_button"] or o["feed_button"],
        cover_open=o["cover_open"],
        paper_stop=o["paper_stop"],
        error=o["error"],
        cutter_error=e["cutter_error"],
        unrecoverable_error=e["unrecoverable_error"],
        recoverable_error=e["recoverable_error"],
        paper_near_end=s["paper_near_end"],
        paper_out=s["paper_out"] or o["paper_stop"],
        raw=(printer, offline, error, paper),
    )
