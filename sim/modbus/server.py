"""The bus simulator: a Modbus RTU server on a pty answering for every simulated unit.

The slave end of the pty (``url``) is what a driver opens; the server reads requests from the
master end in a thread. Requests are framed by length (function 1..6: 8 bytes; 15/16: by byte
count) with a short silence ending any frame of another shape, as an RTU slave frames by
the 3.5-character gap. A request with a bad CRC or for an absent unit gets no answer, as on
a real bus.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from drivers.modbus.crc import crc_ok
from drivers.modbus.rtu import ReadRequest, build_exception_response
from govedge.errors import ConfigError
from sim.modbus.curves import Curve
from sim.modbus.device import Fault, SimDevice
from sim.pty import close_fds, open_raw_pty

FRAME_GAP_S = 0.004  # silence that ends a frame of unknown length (3.5 chars at 9600 baud)


class ModbusBusSimulator:
    """Simulated RS-485 bus with ``devices`` on it, served on a fresh pty."""

    def __init__(
        self,
        devices: Iterable[SimDevice] = (),
        *,
        clock: Callable[[], float] = time.monotonic,
        latency_s: float = 0.0,
    ) -> None:
        self._devices: dict[int, SimDevice] = {}
        for device in devices:
            self.add_device(device)
        self._clock = clock
        self._t0 = clock()
        self.latency_s = latency_s
        self._master = -1
        self._slave = -1
        self._wake_r = -1
        self._wake_w = -1
        self._thread: threading.Thread | None = None
        self._running = False
        self.url = ""
        self.stats: dict[str, int] = {
            "requests": 0,
            "answers": 0,
            "bad_crc_requests": 0,
            "not_for_us": 0,
            "unanswered": 0,
        }

    # -- devices and runtime control --------------------------------------------------------

    def add_device(self, device: SimDevice) -> None:
        """Put ``device`` on the bus; raises ConfigError when its unit id is taken."""
        if device.unit in self._devices:
            raise ConfigError(f"two simulated devices with unit id {device.unit}")
        self._devices[device.unit] = device

    def remove_device(self, unit: int) -> None:
        """Take the device at ``unit`` off the bus so nothing answers there; no error if absent."""
        self._devices.pop(unit, None)

    def device(self, unit: int) -> SimDevice:
        """The device at ``unit``; raises ConfigError when there is none."""
        try:
            return self._devices[unit]
        except KeyError:
            raise ConfigError(f"no simulated device with unit id {unit}") from None

    @property
    def devices(self) -> list[SimDevice]:
        """The devices on the bus now."""
        return list(self._devices.values())

    def set_curve(self, unit: int, quantity: str, curve: Curve | float | Mapping[str, Any]) -> None:
        """Drive ``quantity`` of ``unit`` by ``curve`` (a Curve, a number or a curve dict)."""
        self.device(unit).set_curve(quantity, curve)

    def set_value(self, unit: int, quantity: str, value: float) -> None:
        """Hold ``quantity`` of ``unit`` at ``value``."""
        self.device(unit).set_curve(quantity, Curve(float(value)))

    def set_fault(
        self, unit: int, fault: Fault | str | None, code: int = 4, count: int | None = None
    ) -> None:
        """Make ``unit`` misbehave (silent, bad_crc, exception, torn, wrong_unit) or recover."""
        self.device(unit).set_fault(fault, code=code, count=count)

    def silence(self, unit: int, silent: bool = True) -> None:
        """Stop (or resume) answering for ``unit``."""
        self.set_fault(unit, Fault.SILENT if silent else None)

    def elapsed(self) -> float:
        """Seconds of scenario time since the simulator was built (curves' ``t``)."""
        return self._clock() - self._t0

    def restart_clock(self) -> None:
        """Start scenario time again at 0, so every curve replays from its beginning."""
        self._t0 = self._clock()

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> ModbusBusSimulator:
        """Open the pty (``url`` is its slave path) and serve the bus in a thread; a second call
        does nothing.
        """
        if self._running:
            return self
        self._master, self._slave, self.url = open_raw_pty()
        self._wake_r, self._wake_w = os.pipe()
        self._running = True
        self._thread = threading.Thread(target=self._serve, name="modbus-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the pty; safe to call twice."""
        if not self._running:
            return
        self._running = False
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        close_fds(self._master, self._slave, self._wake_r, self._wake_w)
        self._master = self._slave = self._wake_r = self._wake_w = -1

    def __enter__(self) -> ModbusBusSimulator:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- serving ---------------------------------------------------------------------------

    def _serve(self) -> None:
        buffer = bytearray()
        while self._running:
            timeout = FRAME_GAP_S if buffer else None
            try:
                ready, _, _ = select.select([self._master, self._wake_r], [], [], timeout)
            except (OSError, ValueError):
                return
            if self._wake_r in ready:
                return
            if not ready:
                # Silence after bytes that are no complete frame: drop them, as a slave would.
                self._handle(bytes(buffer))
                buffer.clear()
                continue
            try:
                chunk = os.read(self._master, 512)
            except OSError:
                time.sleep(0.01)  # no reader on the slave side yet
                continue
            buffer += chunk
            while True:
                size = _request_length(buffer)
                if size is None or len(buffer) < size:
                    break
                frame = bytes(buffer[:size])
                del buffer[:size]
                self._handle(frame)

    def _handle(self, frame: bytes) -> None:
        if not frame:
            return
        self.stats["requests"] += 1
        if len(frame) < 4 or not crc_ok(frame):
            self.stats["bad_crc_requests"] += 1
            return
        device = self._devices.get(frame[0])
        if device is None:
            self.stats["not_for_us"] += 1
            return
        function = frame[1]
        if function in (3, 4) and len(frame) == 8:
            request = ReadRequest(
                frame[0],
                function,
                int.from_bytes(frame[2:4], "big"),
                int.from_bytes(frame[4:6], "big"),
            )
            answer = device.answer(request, self.elapsed())
        else:
            answer = build_exception_response(device.unit, function & 0x7F, 1)
        if answer is None:
            self.stats["unanswered"] += 1
            return
        if self.latency_s:
            time.sleep(self.latency_s)
        try:
            os.write(self._master, answer)
        except OSError:
            return
        self.stats["answers"] += 1


def _request_length(buffer: bytes | bytearray) -> int | None:
    """Length of the request at the start of ``buffer``, or None if not yet known."""
    if len(buffer) < 2:
        return None
    function = buffer[1]
    if 1 <= function <= 6:
        return 8
    if function in (15, 16):
        return 9 + buffer[6] if len(buffer) >= 7 else None
    return None
