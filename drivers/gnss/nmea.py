"""Sans-I/O NMEA 0183: sentences from a byte stream, checksums, and RMC/GGA/GSA fields.

A sentence is ``$TTSSS,f1,f2,...*hh<CR><LF>``: TT the talker (GP, GN, GL, GA, BD, GB, ...),
SSS the type, ``hh`` the XOR of every character between ``$`` and ``*`` in two hex digits.
The checksum is required here: a sentence without one is counted as bad, never trusted.
Latitude is ``ddmm.mmmm`` and longitude ``dddmm.mmmm`` with N/S and E/W hemispheres.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from drivers.gnss.errors import NmeaChecksumError, NmeaError

MAX_SENTENCE = 128  # the standard caps a sentence at 82 characters; receivers overrun it a bit
KNOT_KMH = 1.852


def checksum(body: str) -> int:
    """XOR of the characters of ``body`` (the text between ``$`` and ``*``)."""
    value = 0
    for char in body.encode("ascii", "replace"):
        value ^= char
    return value


def frame_sentence(body: str) -> str:
    r"""``$body*hh\r\n``: a complete sentence with its checksum."""
    return f"${body}*{checksum(body):02X}\r\n"


@dataclass(frozen=True, slots=True)
class Sentence:
    """A checksum-verified sentence split into talker, type and fields."""

    talker: str
    kind: str
    fields: tuple[str, ...]


def parse_sentence(line: bytes | str) -> Sentence:
    """Verify and split one sentence (with or without its CR LF)."""
    if isinstance(line, bytes):
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError:
            raise NmeaError("sentence holds non-ASCII bytes") from None
    else:
        text = line
    text = text.strip("\r\n")
    if len(text) > MAX_SENTENCE:
        raise NmeaError(f"sentence of {len(text)} characters is too long")
    if not text.startswith("$"):
        raise NmeaError("sentence does not start with '$'")
    body, star, given = text[1:].rpartition("*")
    if not star:
        raise NmeaChecksumError("sentence has no checksum")
    if len(given) != 2 or any(c not in "0123456789ABCDEFabcdef" for c in given):
        raise NmeaChecksumError(f"bad checksum field {given!r}")
    if int(given, 16) != checksum(body):
        raise NmeaChecksumError(f"checksum {given} does not match {checksum(body):02X}")
    if any(not 0x20 <= ord(c) <= 0x7E or c in "$*!" for c in body):
        raise NmeaError("sentence holds reserved or control characters")
    address, *fields = body.split(",")
    if len(address) < 3 or not address.isalnum():
        raise NmeaError(f"bad address field {address!r}")
    if address.startswith("P"):
        return Sentence("P", address[1:], tuple(fields))  # proprietary
    return Sentence(address[:2], address[2:], tuple(fields))


@dataclass(slots=True)
class SentenceSplitter:
    """Cuts a serial byte stream into sentence lines; counts what it must throw away."""

    overlong: int = 0
    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[bytes]:
        """Lines (``$...`` up to, not including, the line end) completed by ``data``."""
        self._buffer += data
        lines: list[bytes] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                break
            line = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[: end + 1]
            start = line.rfind(b"$")
            if start > 0:
                line = line[start:]  # noise before the start of a sentence
            if line.strip():
                lines.append(line)  # a line without '$' is rejected (and counted) by the caller
        if len(self._buffer) > MAX_SENTENCE:
            # No line end in sight: drop the noise but keep a sentence that may be starting.
            start = self._buffer.rfind(b"$")
            keep = self._buffer[start:] if start >= 0 else b""
            if len(keep) > MAX_SENTENCE:
                keep = b""
            self.overlong += 1
            self._buffer = bytearray(keep)
        return lines


def parse_latitude(value: str, hemisphere: str) -> float | None:
    """``ddmm.mmmm`` + N/S -> signed decimal degrees; None when the field is empty."""
    return _coordinate(value, hemisphere, 2, "NS", 90.0)


def parse_longitude(value: str, hemisphere: str) -> float | None:
    """``dddmm.mmmm`` + E/W -> signed decimal degrees; None when the field is empty."""
    return _coordinate(value, hemisphere, 3, "EW", 180.0)


def _coordinate(
    value: str, hemisphere: str, degree_digits: int, signs: str, limit: float
) -> float | None:
    if not value and not hemisphere:
        return None
    if hemisphere not in signs or len(hemisphere) != 1:
        raise NmeaError(f"bad hemisphere {hemisphere!r}")
    head = value.partition(".")[0]
    if len(head) != degree_digits + 2 or not head.isdigit():
        raise NmeaError(f"bad coordinate {value!r}")
    degrees = int(value[:degree_digits])
    minutes = _float(value[degree_digits:], "minutes")
    if minutes >= 60.0:
        raise NmeaError(f"bad minutes in {value!r}")
    result = degrees + minutes / 60.0
    if result > limit:
        raise NmeaError(f"coordinate {value!r} out of range")
    return -result if hemisphere == signs[1] else result


_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]*)?")


def _float(value: str, what: str) -> float:
    if not _NUMBER.fullmatch(value):
        raise NmeaError(f"bad {what} {value!r}")
    return float(value)


def _optional_float(value: str, what: str) -> float | None:
    return None if value == "" else _float(value, what)


def _int(value: str, what: str) -> int:
    if not value.isdigit():
        raise NmeaError(f"bad {what} {value!r}")
    return int(value)


def parse_time(value: str) -> time | None:
    """``hhmmss[.ss]`` -> a UTC time; None when empty."""
    if not value:
        return None
    head, _, frac = value.partition(".")
    if len(head) != 6 or not head.isdigit() or (frac and not frac.isdigit()):
        raise NmeaError(f"bad time {value!r}")
    hour, minute, second = int(head[:2]), int(head[2:4]), int(head[4:6])
    micro = int((frac + "000000")[:6]) if frac else 0
    if hour > 23 or minute > 59 or second > 60:
        raise NmeaError(f"bad time {value!r}")
    return time(hour, minute, min(second, 59), micro, tzinfo=UTC)


def parse_date(value: str) -> date | None:
    """``ddmmyy`` -> a date (years 80..99 are 19xx, as receivers of the GPS era report)."""
    if not value:
        return None
    if len(value) != 6 or not value.isdigit():
        raise NmeaError(f"bad date {value!r}")
    day, month, year = int(value[:2]), int(value[2:4]), int(value[4:6])
    try:
        return date(1900 + year if year >= 80 else 2000 + year, month, day)
    except ValueError:
        raise NmeaError(f"bad date {value!r}") from None


@dataclass(frozen=True, slots=True)
class Rmc:
    """Recommended minimum data: time, validity, position, speed, course, date."""

    time: time | None
    valid: bool
    lat: float | None
    lon: float | None
    speed_knots: float | None
    course: float | None
    date: date | None


@dataclass(frozen=True, slots=True)
class Gga:
    """Fix data: time, position, quality, satellites in use, HDOP, altitude."""

    time: time | None
    lat: float | None
    lon: float | None
    quality: int
    satellites: int
    hdop: float | None
    altitude: float | None


@dataclass(frozen=True, slots=True)
class Gsa:
    """DOP and active satellites: fix type (1 none, 2 2D, 3 3D), PRNs, PDOP/HDOP/VDOP."""

    mode: str
    fix_type: int
    prns: tuple[int, ...]
    pdop: float | None
    hdop: float | None
    vdop: float | None


def _need(fields: tuple[str, ...], count: int, kind: str) -> None:
    if len(fields) < count:
        raise NmeaError(f"{kind} has {len(fields)} fields, needs {count}")


def parse_rmc(fields: tuple[str, ...]) -> Rmc:
    """An RMC sentence's fields: time, validity, position, speed and course."""
    _need(fields, 9, "RMC")
    status = fields[1]
    if status not in ("A", "V"):
        raise NmeaError(f"bad RMC status {status!r}")
    valid = status == "A"
    if len(fields) >= 12 and fields[11] in ("N",):
        valid = False  # NMEA 2.3 mode indicator: data not valid
    return Rmc(
        time=parse_time(fields[0]),
        valid=valid,
        lat=parse_latitude(fields[2], fields[3]),
        lon=parse_longitude(fields[4], fields[5]),
        speed_knots=_optional_float(fields[6], "speed"),
        course=_optional_float(fields[7], "course"),
        date=parse_date(fields[8]),
    )


def parse_gga(fields: tuple[str, ...]) -> Gga:
    """A GGA sentence's fields: time, position, fix quality, satellites and altitude."""
    _need(fields, 9, "GGA")
    quality = _int(fields[5], "fix quality") if fields[5] else 0
    if quality > 8:
        raise NmeaError(f"bad fix quality {quality}")
    return Gga(
        time=parse_time(fields[0]),
        lat=parse_latitude(fields[1], fields[2]),
        lon=parse_longitude(fields[3], fields[4]),
        quality=quality,
        satellites=_int(fields[6], "satellite count") if fields[6] else 0,
        hdop=_optional_float(fields[7], "HDOP"),
        altitude=_optional_float(fields[8], "altitude"),
    )


def parse_gsa(fields: tuple[str, ...]) -> Gsa:
    """A GSA sentence's fields: fix type, satellites used and dilutions of precision."""
    _need(fields, 17, "GSA")
    fix_type = _int(fields[1], "fix type") if fields[1] else 1
    if fix_type not in (1, 2, 3):
        raise NmeaError(f"bad fix type {fix_type}")
    prns = tuple(_int(f, "PRN") for f in fields[2:14] if f)
    return Gsa(
        mode=fields[0],
        fix_type=fix_type,
        prns=prns,
        pdop=_optional_float(fields[14], "PDOP"),
        hdop=_optional_float(fields[15], "HDOP"),
        vdop=_optional_float(fields[16], "VDOP"),
    )


@dataclass(slots=True)
class GnssFix:
    """What the receiver last said, merged from RMC, GGA and GSA."""

    lat: float | None = None
    lon: float | None = None
    quality: int = 0
    fix_type: int = 1
    satellites: int = 0
    hdop: float | None = None
    altitude: float | None = None
    speed_knots: float | None = None
    course: float | None = None
    time: time | None = None
    date: date | None = None

    @property
    def has_fix(self) -> bool:
        """True when the fix quality (from GGA or a valid RMC) is above 0 and a position is
        known."""
        return self.quality > 0 and self.lat is not None and self.lon is not None

    @property
    def speed_kmh(self) -> float | None:
        """Ground speed in km/h; None unless the last RMC was valid."""
        return None if self.speed_knots is None else self.speed_knots * KNOT_KMH

    @property
    def timestamp(self) -> datetime | None:
        """The UTC date and time of the fix (naive), once both RMC's date and a time were seen."""
        if self.time is None or self.date is None:
            return None
        return datetime.combine(self.date, self.time)

    def as_reading(self) -> dict[str, float]:
        """The polled reading: lat/lon only with a fix; fix, satellites and HDOP always."""
        reading: dict[str, float] = {
            "fix": float(self.quality),
            "satellites": float(self.satellites),
        }
        if self.has_fix:
            assert self.lat is not None and self.lon is not None  # noqa: S101 - narrowing: has_fix means lat and lon are set
            reading["lat"] = round(self.lat, 7)
            reading["lon"] = round(self.lon, 7)
            if self.speed_kmh is not None:
                reading["speed_kmh"] = round(self.speed_kmh, 2)
            if self.course is not None:
                reading["course"] = self.course
            if self.altitude is not None:
                reading["altitude"] = self.altitude
        reading["fix_type"] = float(self.fix_type)
        if self.hdop is not None:
            reading["hdop"] = self.hdop
        stamp = self.timestamp
        if stamp is not None:
            reading["time"] = stamp.timestamp()
        return reading


KNOWN_KINDS = ("RMC", "GGA", "GSA")


def apply(fix: GnssFix, sentence: Sentence) -> bool:
    """Merge a sentence into ``fix``; True if it was one this module understands."""
    if sentence.kind == "RMC":
        rmc = parse_rmc(sentence.fields)
        fix.time = rmc.time or fix.time
        fix.date = rmc.date or fix.date
        fix.speed_knots = rmc.speed_knots if rmc.valid else None
        fix.course = rmc.course if rmc.valid else None
        if rmc.valid and rmc.lat is not None and rmc.lon is not None:
            fix.lat, fix.lon = rmc.lat, rmc.lon
            fix.quality = fix.quality or 1
        else:
            fix.quality = 0
        return True
    if sentence.kind == "GGA":
        gga = parse_gga(sentence.fields)
        fix.time = gga.time or fix.time
        fix.quality = gga.quality
        fix.satellites = gga.satellites
        fix.hdop = gga.hdop
        fix.altitude = gga.altitude
        if gga.quality > 0 and gga.lat is not None and gga.lon is not None:
            fix.lat, fix.lon = gga.lat, gga.lon
        return True
    if sentence.kind == "GSA":
        gsa = parse_gsa(sentence.fields)
        fix.fix_type = gsa.fix_type
        if gsa.hdop is not None:
            fix.hdop = gsa.hdop
        return True
    return False


def format_latitude(lat: float) -> tuple[str, str]:
    """Signed degrees -> (``ddmm.mmmm``, N/S)."""
    return _format_coordinate(lat, 2, "NS")


def format_longitude(lon: float) -> tuple[str, str]:
    """Signed degrees -> (``dddmm.mmmm``, E/W)."""
    return _format_coordinate(lon, 3, "EW")


def _format_coordinate(value: float, degree_digits: int, signs: str) -> tuple[str, str]:
    hemisphere = signs[1] if value < 0 else signs[0]
    value = abs(value)
    degrees = int(value)
    minutes = round((value - degrees) * 60.0, 4)
    if minutes >= 60.0:
        degrees, minutes = degrees + 1, 0.0
    return f"{degrees:0{degree_digits}d}{minutes:07.4f}", hemisphere
