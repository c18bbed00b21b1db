"""A GNSS receiver on a serial port: a reader thread keeps the latest fix, poll() returns it.

A receiver talks whether or not anyone listens, so the driver reads continuously (a stale
buffer would otherwise hand out an old position) and poll() answers at once from the merged
RMC/GGA/GSA state. No valid sentence for ``timeout`` seconds means the receiver is offline.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import Any

from drivers.base import HealthReport
from drivers.errors import DriverError, TransportError
from drivers.gnss.errors import GnssError, GnssTimeout, NmeaChecksumError, NmeaError
from drivers.gnss.nmea import GnssFix, SentenceSplitter, apply, parse_sentence
from drivers.transport import ByteTransport, open_serial
from govedge.health import HealthState

DEFAULT_BAUDRATE = 9600
COUNTER_NAMES = ("sentences", "bad_checksum", "malformed", "unknown", "overlong", "no_fix")


class GnssReceiver:
    """The PolledDriver of an NMEA 0183 receiver (``kind`` "gnss")."""

    kind = "gnss"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self._clock = clock
        self._port: ByteTransport | None = None
        self._wanted = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._fix = GnssFix()
        self._seen: set[str] = set()
        self._last_valid: float | None = None
        self._opened_at = 0.0
        self._failure: DriverError | None = None
        self.counters: dict[str, int] = dict.fromkeys(COUNTER_NAMES, 0)
        self._state = HealthState.OFFLINE
        self._detail = "not opened"

    # -- life cycle -------------------------------------------------------------------------

    def open(self) -> None:
        """Open the port and start the reader thread; NoDeviceError if the port is absent."""
        self._wanted = True
        self._open_port()

    def _open_port(self) -> None:
        if self._port is not None:
            return
        try:
            port = open_serial(self.url, timeout=0.05, baudrate=DEFAULT_BAUDRATE)
        except DriverError as exc:
            self._state, self._detail = exc.health, str(exc)
            raise
        port.reset_input_buffer()  # drop what the receiver said before we listened
        self._port = port
        self._stop.clear()
        self._failure = None
        self._seen.clear()
        self._last_valid = None
        self._opened_at = self._clock()
        self._state, self._detail = HealthState.ONLINE, "open"
        self._thread = threading.Thread(target=self._read_loop, name="gnss-reader", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the reader thread and close the port; polls then raise until ``open`` again."""
        self._wanted = False
        self._close_port()

    def _close_port(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        if self._port is not None:
            try:
                self._port.close()
            except OSError:
                pass
            self._port = None
            self._state, self._detail = HealthState.OFFLINE, "closed"

    def __enter__(self) -> GnssReceiver:
        self.open()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------------------

    def _read_loop(self) -> None:
        splitter = SentenceSplitter()
        port = self._port
        assert port is not None  # noqa: S101 - narrowing: open() sets the port before the thread starts
        while not self._stop.is_set():
            try:
                data = port.read(256)
            except Exception as exc:  # noqa: BLE001 - pyserial raises SerialException, OSError, termios.error
                with self._changed:
                    self._failure = TransportError(f"GNSS receiver on {self.url} lost: {exc}")
                    self._changed.notify_all()
                return
            if not data:
                continue
            lines = splitter.feed(data)
            with self._changed:
                self.counters["overlong"] = splitter.overlong
                for line in lines:
                    self._take(line)
                self._changed.notify_all()

    def _take(self, line: bytes) -> None:
        try:
            sentence = parse_sentence(line)
            known = apply(self._fix, sentence)
        except NmeaChecksumError:
            self.counters["bad_checksum"] += 1
            return
        except NmeaError:
            self.counters["malformed"] += 1
            return
        self.counters["sentences"] += 1
        if not known:
            self.counters["unknown"] += 1
            return
        self._seen.add(sentence.kind)
        self._last_valid = self._clock()

    def wait_for_epoch(self, timeout: float | None = None) -> bool:
        """Wait until both RMC and GGA have arrived since open; False on timeout."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        with self._changed:
            while not {"RMC", "GGA"} <= self._seen and self._failure is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return self._failure is None

    def fix(self) -> GnssFix:
        """A copy of the merged state (position, quality, satellites, time...)."""
        with self._changed:
            return copy.copy(self._fix)

    def poll(self) -> dict[str, float]:
        """The latest fix: lat, lon, speed_kmh, course, altitude (with a fix), fix, satellites.

        Waits up to ``timeout`` for the first sentences after open; raises GnssTimeout when
        the receiver has said nothing valid for ``timeout`` seconds.
        """
        if not self._wanted:
            raise GnssError(f"GNSS receiver on {self.url} is not open")
        if self._failure is not None and self._thread is not None and not self._thread.is_alive():
            self._close_port()  # the port went away at the last poll
        if self._port is None:
            self._open_port()  # try it afresh (a replugged USB receiver); NoDeviceError if not
        self.wait_for_epoch()
        with self._changed:
            if self._failure is not None:
                self._state, self._detail = self._failure.health, str(self._failure)
                raise self._failure
            now = self._clock()
            since = self._last_valid if self._last_valid is not None else self._opened_at
            if now - since >= self.timeout or self._last_valid is None:
                error = GnssTimeout(
                    f"no valid NMEA sentence from {self.url} for {now - since:.1f} s"
                )
                self._state, self._detail = error.health, str(error)
                raise error
            reading = self._fix.as_reading()
            if self._fix.has_fix:
                self._state, self._detail = HealthState.ONLINE, "fix"
            else:
                self.counters["no_fix"] += 1
                self._state = HealthState.ONLINE
                self._detail = f"no fix ({self._fix.satellites} satellites)"
            return reading

    def health(self) -> HealthReport:
        """The state after the last poll; errors count bad checksums and malformed sentences."""
        with self._changed:
            errors = self.counters["bad_checksum"] + self.counters["malformed"]
            return HealthReport(self._state, self._detail, errors, dict(self.counters))

    def describe(self) -> dict[str, Any]:
        """The fix as JSON-ready fields (lat/lon None without a fix) for the command line."""
        fix = self.fix()
        stamp = fix.timestamp
        return {
            "lat": round(fix.lat, 7) if fix.has_fix and fix.lat is not None else None,
            "lon": round(fix.lon, 7) if fix.has_fix and fix.lon is not None else None,
            "fix": fix.quality,
            "fix_type": fix.fix_type,
            "satellites": fix.satellites,
            "hdop": fix.hdop,
            "altitude": fix.altitude if fix.has_fix else None,
            "speed_kmh": round(fix.speed_kmh, 2) if fix.speed_kmh is not None else None,
            "course": fix.course,
            "time": stamp.isoformat() if stamp is not None else None,
        }
