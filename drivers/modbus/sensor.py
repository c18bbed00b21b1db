"""A Modbus sensor: one unit id on a bus, read through its profile, with health and counters."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from drivers.base import HealthReport
from drivers.errors import DriverError
from drivers.modbus.bus import ModbusBus, acquire_bus, release_bus
from drivers.modbus.errors import (
    ModbusCrcError,
    ModbusError,
    ModbusExceptionResponse,
    ModbusFrameError,
    ModbusTimeout,
)
from drivers.modbus.profiles import Profile
from govedge.health import HealthState

COUNTER_NAMES = (
    "polls",
    "requests",
    "answers",
    "timeouts",
    "crc_errors",
    "frame_errors",
    "exceptions",
    "stuck",
)


@dataclass(slots=True)
class _Track:
    value: float
    since: float


class StuckDetector:
    """Flags a quantity whose value has not changed for ``after_s`` seconds (0 disables)."""

    def __init__(self, after_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.after_s = after_s
        self._clock = clock
        self._tracks: dict[str, _Track] = {}

    def update(self, values: dict[str, float], checked: set[str]) -> dict[str, float]:
        """Record a reading; return quantity -> seconds stuck for each stuck quantity."""
        now = self._clock()
        stuck: dict[str, float] = {}
        for name, value in values.items():
            track = self._tracks.get(name)
            if track is None or track.value != value:
                self._tracks[name] = _Track(value, now)
                continue
            held = now - track.since
            if self.after_s > 0 and name in checked and held >= self.after_s:
                stuck[name] = held
        return stuck

    def reset(self) -> None:
        """Forget every value seen, so no quantity counts as stuck until it holds still again."""
        self._tracks.clear()


class ModbusSensor:
    """The PolledDriver of one Modbus RTU sensor (``kind`` "modbus")."""

    kind = "modbus"

    def __init__(
        self,
        url: str,
        profile: Profile,
        unit: int = 1,
        *,
        timeout: float = 1.0,
        retries: int = 1,
        stuck_after_s: float = 1800.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.profile = profile
        self.unit = unit
        self.timeout = timeout
        self.retries = retries
        self._blocks = profile.blocks()
        self._checked = {q.name for q in profile.quantities if q.stuck_check}
        self._stuck = StuckDetector(stuck_after_s, clock)
        self._bus: ModbusBus | None = None
        self._lock = threading.Lock()
        self.counters: dict[str, int] = dict.fromkeys(COUNTER_NAMES, 0)
        self.stuck_quantities: dict[str, float] = {}
        self.last_values: dict[str, float] = {}
        self._state = HealthState.OFFLINE
        self._detail = "not opened"
        self._errors = 0

    def open(self) -> None:
        """Claim the unit on the shared bus for the URL's port, opening the port if it is the
        first."""
        with self._lock:
            if self._bus is None:
                try:
                    self._bus = acquire_bus(self.url, self.unit)
                except DriverError as exc:
                    self._set(exc.health, str(exc))
                    raise
                self._set(HealthState.ONLINE, "open")

    def close(self) -> None:
        """Release the unit; the last sensor on the bus closes the port. Safe to call twice."""
        with self._lock:
            if self._bus is not None:
                bus, self._bus = self._bus, None
                release_bus(bus, self.unit)
                self._set(HealthState.OFFLINE, "closed")

    def __enter__(self) -> ModbusSensor:
        self.open()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def poll(self) -> dict[str, float]:
        """Read every quantity of the profile; raise the ModbusError of the first failed read."""
        with self._lock:
            if self._bus is None:
                raise ModbusError(f"Modbus sensor unit {self.unit} on {self.url} is not open")
            self.counters["polls"] += 1
            values: dict[str, float] = {}
            for block in self._blocks:
                registers = self._read(self._bus, block.function, block.address, block.count)
                values.update(self.profile.decode_block(block, registers))
            self.last_values = values
            stuck = self._stuck.update(values, self._checked)
            newly = set(stuck) - set(self.stuck_quantities)
            self.counters["stuck"] += len(newly)
            self.stuck_quantities = stuck
            if stuck:
                text = ", ".join(f"{n} at {values[n]:g} for {s:.0f} s" for n, s in stuck.items())
                self._set(HealthState.HARDWARE_ERROR, f"stuck: {text}")
            else:
                self._set(HealthState.ONLINE, "ok")
            return values

    def _read(self, bus: ModbusBus, function: int, address: int, count: int) -> list[int]:
        attempts = 1 + max(0, self.retries)
        for attempt in range(attempts):
            self.counters["requests"] += 1
            try:
                registers = bus.read(self.unit, function, address, count, self.timeout)
            except ModbusError as exc:
                self._count(exc)
                if attempt + 1 < attempts and not isinstance(exc, ModbusExceptionResponse):
                    continue
                raise
            except DriverError as exc:
                self._count(exc)
                raise
            self.counters["answers"] += 1
            return registers
        raise AssertionError("unreachable")  # pragma: no cover

    def _count(self, exc: DriverError) -> None:
        self._errors += 1
        if isinstance(exc, ModbusTimeout):
            self.counters["timeouts"] += 1
        elif isinstance(exc, ModbusCrcError):
            self.counters["crc_errors"] += 1
        elif isinstance(exc, ModbusFrameError):
            self.counters["frame_errors"] += 1
        elif isinstance(exc, ModbusExceptionResponse):
            self.counters["exceptions"] += 1
        self._set(exc.health, str(exc))

    def _set(self, state: HealthState, detail: str) -> None:
        self._state = state
        self._detail = detail

    def health(self) -> HealthReport:
        """The state after the last poll, with the request, error and stuck counters."""
        return HealthReport(
            state=self._state,
            detail=self._detail,
            errors=self._errors,
            counters=dict(self.counters),
        )
