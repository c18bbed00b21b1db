"""The receiver simulator: NMEA RMC, GGA and GSA on a pty at ``rate_hz``, from a track.

The epoch time starts at ``start_time`` (UTC) and advances with the wall clock. Runtime
control: ``set_fix`` (0 loses the fix), ``set_satellites``, ``corrupt(n)`` (next n sentences
with a wrong checksum), ``inject(bytes)`` (raw noise), ``silence`` (stop talking).
"""

from __future__ import annotations

import errno
import os
import threading
import time
from datetime import UTC, datetime, timedelta

from drivers.gnss.nmea import format_latitude, format_longitude, frame_sentence
from sim.gnss.track import Track
from sim.pty import close_fds, open_raw_pty

KNOTS_PER_MPS = 3600.0 / 1852.0


class GnssSimulator:
    """A GNSS receiver on a fresh pty; ``url`` is the slave path a driver opens."""

    def __init__(
        self,
        track: Track | None = None,
        *,
        rate_hz: float = 1.0,
        talker: str = "GP",
        start_time: datetime | None = None,
        satellites: int = 9,
        hdop: float = 0.9,
        altitude: float = 12.5,
        fix_quality: int = 1,
    ) -> None:
        if rate_hz <= 0:
            raise ValueError("rate_hz must be positive")
        self.track = track or Track.city_loop()
        self.rate_hz = rate_hz
        self.talker = talker
        self.start_time = start_time or datetime.now(UTC).replace(microsecond=0)
        self.satellites = satellites
        self.hdop = hdop
        self.altitude = altitude
        self.fix_quality = fix_quality
        self._lock = threading.Lock()
        self._corrupt = 0
        self._silent = False
        self._pending: list[bytes] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._master = self._slave = -1
        self._t0 = 0.0
        self.url = ""
        self.epochs = 0
        self.dropped = 0

    # -- runtime control --------------------------------------------------------------------

    def set_fix(self, quality: int) -> None:
        """GGA fix quality from now on: 0 no fix, 1 GPS, 2 DGPS, 4 RTK..."""
        with self._lock:
            self.fix_quality = quality

    def set_satellites(self, count: int) -> None:
        """Satellites in use, as GGA and GSA report them from the next epoch on."""
        with self._lock:
            self.satellites = count

    def set_track(self, track: Track) -> None:
        """Follow ``track`` from the next epoch; it is read at the time since start, not from 0."""
        with self._lock:
            self.track = track

    def corrupt(self, count: int = 1) -> None:
        """Send the next ``count`` sentences with a wrong checksum."""
        with self._lock:
            self._corrupt += count

    def inject(self, data: bytes) -> None:
        """Put raw bytes on the line before the next epoch (line noise, torn sentences)."""
        with self._lock:
            self._pending.append(data)

    def silence(self, silent: bool = True) -> None:
        """Stop sending sentences (a receiver that has gone quiet), or start again."""
        with self._lock:
            self._silent = silent

    # -- sentences --------------------------------------------------------------------------

    def sentences(self, t: float) -> list[str]:
        """The epoch at ``t`` seconds after start: RMC, GGA, GSA, each framed."""
        with self._lock:
            quality, sats, hdop = self.fix_quality, self.satellites, self.hdop
            position = self.track.at(t)
        stamp = self.start_time + timedelta(seconds=t)
        hms = stamp.strftime("%H%M%S") + f".{stamp.microsecond // 10000:02d}"
        dmy = stamp.strftime("%d%m%y")
        lat, ns = format_latitude(position.lat)
        lon, ew = format_longitude(position.lon)
        knots = position.speed_mps * KNOTS_PER_MPS
        if quality > 0:
            rmc = (
                f"{self.talker}RMC,{hms},A,{lat},{ns},{lon},{ew},{knots:.2f},"
                f"{position.course:.1f},{dmy},,,A"
            )
            gga = (
                f"{self.talker}GGA,{hms},{lat},{ns},{lon},{ew},{quality},{sats:02d},"
                f"{hdop:.1f},{self.altitude:.1f},M,8.5,M,,"
            )
            prns = [f"{prn:02d}" for prn in (2, 5, 7, 9, 13, 15, 18, 20, 24, 27, 29, 30)[:sats]]
            prns += [""] * (12 - len(prns))
            dops = f"{hdop * 1.5:.1f},{hdop:.1f},{hdop * 1.2:.1f}"
            gsa = f"{self.talker}GSA,A,3,{','.join(prns)},{dops}"
        else:
            rmc = f"{self.talker}RMC,{hms},V,,,,,,,{dmy},,,N"
            gga = f"{self.talker}GGA,{hms},,,,,0,{sats:02d},,,M,,M,,"
            gsa = f"{self.talker}GSA,A,1,,,,,,,,,,,,,,,"
        return [frame_sentence(body) for body in (rmc, gga, gsa)]

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> GnssSimulator:
        """Open the pty (``url`` is its slave path) and talk at ``rate_hz``; a second call does
        nothing.
        """
        if self._thread is not None:
            return self
        self._master, self._slave, self.url = open_raw_pty(nonblocking_master=True)
        self._stop.clear()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._talk, name="gnss-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop talking and close the pty; safe to call twice."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=2.0)
        self._thread = None
        close_fds(self._master, self._slave)
        self._master = self._slave = -1

    def __enter__(self) -> GnssSimulator:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _talk(self) -> None:
        period = 1.0 / self.rate_hz
        next_at = time.monotonic()
        while not self._stop.is_set():
            t = time.monotonic() - self._t0
            self._emit(t)
            next_at += period
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _emit(self, t: float) -> None:
        with self._lock:
            if self._silent:
                self._pending.clear()
                return
            pending, self._pending = self._pending, []
        out = bytearray(b"".join(pending))
        for sentence in self.sentences(t):
            data = sentence.encode("ascii")
            with self._lock:
                if self._corrupt > 0:
                    self._corrupt -= 1
                    star = data.rindex(b"*")
                    wrong = (int(data[star + 1 : star + 3], 16) ^ 0x5A) & 0xFF
                    data = data[: star + 1] + f"{wrong:02X}".encode() + b"\r\n"
            out += data
        self.epochs += 1
        try:
            os.write(self._master, out)
        except OSError as exc:
            # Nobody is reading and the pty is full: a real receiver talks on regardless.
            if exc.errno not in (errno.EAGAIN, errno.EIO):
                raise
            self.dropped += 1
