"""One simulated sensor on the bus: its profile, its curves, its silences and its faults."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from drivers.modbus.profiles import Profile, Quantity, load_profile
from drivers.modbus.rtu import (
    READ_FUNCTIONS,
    ReadRequest,
    build_exception_response,
    build_read_response,
)
from govedge.errors import ConfigError
from sim.modbus.curves import Curve, curve_from


class Fault(StrEnum):
    """What a device does wrong when answering."""

    NONE = "none"
    SILENT = "silent"  # no answer at all (the master times out)
    BAD_CRC = "bad_crc"  # the answer with its CRC bytes flipped
    EXCEPTION = "exception"  # an exception answer (code set with the fault)
    TORN = "torn"  # only the first half of the answer
    WRONG_UNIT = "wrong_unit"  # the answer carries another unit id


@dataclass(slots=True)
class _ActiveFault:
    fault: Fault
    code: int
    remaining: int | None  # answers still affected; None = until cleared


class SimDevice:
    """A sensor with unit id ``unit`` speaking ``profile``; values follow ``curves``.

    ``curves`` maps a quantity to a Curve, a number or a curve dict; quantities without one
    sit at 0. ``silent`` lists (start, end) windows, in seconds, when the device does not answer.
    """

    def __init__(
        self,
        unit: int,
        profile: str | Profile,
        curves: Mapping[str, Curve | float | Mapping[str, Any]] | None = None,
        silent: list[tuple[float, float]] | None = None,
    ) -> None:
        if not 1 <= unit <= 247:
            raise ConfigError(f"unit id must be 1..247, not {unit}")
        self.unit = unit
        self.profile = load_profile(profile) if isinstance(profile, str) else profile
        self._lock = threading.Lock()
        self.curves: dict[str, Curve] = {q.name: Curve(0.0) for q in self.profile.quantities}
        for name, spec in (curves or {}).items():
            self.set_curve(name, spec)
        self.silent = list(silent or [])
        self._fault = _ActiveFault(Fault.NONE, 0, None)
        self.answered = 0

    def set_curve(self, quantity: str, spec: Curve | float | Mapping[str, Any]) -> None:
        """Have ``quantity`` follow ``spec`` (a Curve, a constant or a curve dict) from now on.

        Raises ConfigError for a quantity the profile does not have or a malformed curve.
        """
        self.profile.quantity(quantity)  # raises for an unknown name
        with self._lock:
            self.curves[quantity] = curve_from(spec, f"unit {self.unit} {quantity}")

    def set_fault(self, fault: Fault | str | None, code: int = 4, count: int | None = None) -> None:
        """Misbehave for the next ``count`` answers (None: until the fault is cleared with None)."""
        with self._lock:
            self._fault = _ActiveFault(Fault(fault or Fault.NONE), code, count)

    def values(self, t: float) -> dict[str, float]:
        """Every quantity's value at ``t`` seconds of scenario time."""
        with self._lock:
            return {name: curve.value(t) for name, curve in self.curves.items()}

    def is_silent(self, t: float) -> bool:
        """Whether the device is in one of its ``silent`` windows at ``t`` and must not answer."""
        return any(start <= t < end for start, end in self.silent)

    def _take_fault(self) -> _ActiveFault:
        with self._lock:
            active = self._fault
            if active.fault is Fault.NONE:
                return active
            if active.remaining is not None:
                active.remaining -= 1
                if active.remaining <= 0:
                    self._fault = _ActiveFault(Fault.NONE, 0, None)
            return active

    def answer(self, request: ReadRequest, t: float) -> bytes | None:
        """The bytes this device puts on the bus for ``request`` (None: it stays quiet)."""
        if self.is_silent(t):
            return None
        fault = self._take_fault()
        if fault.fault is Fault.SILENT:
            return None
        if fault.fault is Fault.EXCEPTION:
            return build_exception_response(self.unit, request.function, fault.code)
        frame = self._normal_answer(request, t)
        if fault.fault is Fault.BAD_CRC:
            frame = frame[:-2] + bytes([frame[-2] ^ 0xFF, frame[-1] ^ 0x5A])
        elif fault.fault is Fault.TORN:
            frame = frame[: max(3, len(frame) // 2)]
        elif fault.fault is Fault.WRONG_UNIT:
            from drivers.modbus.crc import with_crc

            frame = with_crc(bytes([(self.unit % 247) + 1]) + frame[1:-2])
        self.answered += 1
        return frame

    def _normal_answer(self, request: ReadRequest, t: float) -> bytes:
        if request.function not in READ_FUNCTIONS:
            return build_exception_response(self.unit, request.function, 1)
        if not 1 <= request.count <= 125:
            return build_exception_response(self.unit, request.function, 3)
        registers = self.registers(request.function, t)
        wanted = range(request.address, request.address + request.count)
        if any(address not in registers for address in wanted):
            return build_exception_response(self.unit, request.function, 2)
        return build_read_response(self.unit, request.function, [registers[a] for a in wanted])

    def registers(self, function: int, t: float) -> dict[int, int]:
        """Register address -> word for every quantity read with ``function``."""
        values = self.values(t)
        table: dict[int, int] = {}
        for quantity in self.profile.quantities:
            if quantity.function == function:
                words = _encode(quantity, values[quantity.name])
                for index, word in enumerate(words):
                    table[quantity.register + index] = word
        return table


def _encode(quantity: Quantity, value: float) -> list[int]:
    return quantity.encode(value)
