"""Golden NMEA 0183 sentences, checksums worked by hand from the standard's definition.

The checksum is the 8-bit XOR of every character between '$' and '*', written as two hex
digits. The two classic sentences (a fix at 12:35:19 UTC, 48°07.038' N 11°31.000' E, 1994)
carry *47 and *6A; the GSA example (3D fix, PRNs 04 05 09 12 24, PDOP 2.5, HDOP 1.3,
VDOP 2.1) carries *39.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from drivers.gnss.errors import NmeaChecksumError, NmeaError
from drivers.gnss.nmea import (
    GnssFix,
    SentenceSplitter,
    apply,
    checksum,
    format_latitude,
    format_longitude,
    frame_sentence,
    parse_gga,
    parse_gsa,
    parse_rmc,
    parse_sentence,
)

GGA = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"
RMC = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A"
GSA = "$GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1*39"
LAT = 48 + 7.038 / 60  # 48.1173
LON = 11 + 31.0 / 60  # 11.516666...


def test_checksums_of_the_classic_sentences() -> None:
    assert checksum(GGA[1:-3]) == 0x47
    assert checksum(RMC[1:-3]) == 0x6A
    assert checksum(GSA[1:-3]) == 0x39
    assert frame_sentence(GGA[1:-3]) == GGA + "\r\n"


def test_gga_fields() -> None:
    sentence = parse_sentence(GGA + "\r\n")
    assert (sentence.talker, sentence.kind) == ("GP", "GGA")
    gga = parse_gga(sentence.fields)
    assert gga.time == time(12, 35, 19, tzinfo=UTC)
    assert gga.lat == pytest.approx(LAT, abs=1e-9)
    assert gga.lon == pytest.approx(LON, abs=1e-9)
    assert (gga.quality, gga.satellites, gga.hdop, gga.altitude) == (1, 8, 0.9, 545.4)


def test_rmc_fields() -> None:
    rmc = parse_rmc(parse_sentence(RMC.encode()).fields)
    assert rmc.valid
    assert rmc.speed_knots == 22.4
    assert rmc.course == 84.4
    assert rmc.date == date(1994, 3, 23)
    assert rmc.lat == pytest.approx(LAT, abs=1e-9)


def test_gsa_fields() -> None:
    gsa = parse_gsa(parse_sentence(GSA).fields)
    assert (gsa.mode, gsa.fix_type, gsa.prns) == ("A", 3, (4, 5, 9, 12, 24))
    assert (gsa.pdop, gsa.hdop, gsa.vdop) == (2.5, 1.3, 2.1)


def test_merged_fix_reading() -> None:
    fix = GnssFix()
    for line in (RMC, GGA, GSA):
        assert apply(fix, parse_sentence(line))
    reading = fix.as_reading()
    assert reading["lat"] == pytest.approx(48.1173, abs=1e-7)
    assert reading["lon"] == pytest.approx(11.5166667, abs=1e-7)
    assert reading["fix"] == 1
    assert reading["satellites"] == 8
    assert reading["speed_kmh"] == pytest.approx(22.4 * 1.852, abs=0.01)
    assert reading["hdop"] == 1.3  # GSA came last
    assert fix.timestamp == datetime(1994, 3, 23, 12, 35, 19, tzinfo=UTC)


def test_southern_and_western_hemispheres_are_negative() -> None:
    body = "GNGGA,000000,3351.000,S,15112.000,W,2,10,1.0,5.0,M,0.0,M,,"
    gga = parse_gga(parse_sentence(frame_sentence(body)).fields)
    assert gga.lat == pytest.approx(-(33 + 51 / 60))
    assert gga.lon == pytest.approx(-(151 + 12 / 60))


def test_coordinate_formatting_round_trips() -> None:
    assert format_latitude(LAT) == ("4807.0380", "N")
    assert format_longitude(-LON) == ("01131.0000", "W")


@pytest.mark.parametrize(
    "line",
    [
        GGA[:-2] + "48",  # wrong checksum
        GGA[:-3],  # no checksum
        GGA.replace("*47", "*4"),  # short checksum field
    ],
)
def test_checksum_errors(line: str) -> None:
    with pytest.raises(NmeaChecksumError):
        parse_sentence(line)


@pytest.mark.parametrize(
    "body",
    [
        "GPGGA,123519,4807.038,X,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",  # hemisphere
        "GPGGA,123519,4877.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",  # minutes >= 60
        "GPGGA,126519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",  # minute 65
        "GPGGA,123519,4807.038,N,01131.000,E,1,x8,0.9,545.4,M,46.9,M,,",  # satellites
        "GPRMC,123519,Q,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W",  # status
        "GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,320394,003.1,W",  # day 32
        "GPRMC,123519,A,4807.038,N",  # too few fields
    ],
)
def test_malformed_fields(body: str) -> None:
    sentence = parse_sentence(frame_sentence(body))
    with pytest.raises(NmeaError):
        apply(GnssFix(), sentence)


def test_no_fix_has_no_position() -> None:
    fix = GnssFix()
    apply(fix, parse_sentence(frame_sentence("GPRMC,010203,V,,,,,,,251126,,,N")))
    apply(fix, parse_sentence(frame_sentence("GPGGA,010203,,,,,0,03,,,M,,M,,")))
    reading = fix.as_reading()
    assert reading["fix"] == 0 and reading["satellites"] == 3
    assert "lat" not in reading and "lon" not in reading


def test_splitter_cuts_lines_across_chunks_and_skips_noise() -> None:
    splitter = SentenceSplitter()
    stream = b"\x00\xffnoise" + (GGA + "\r\n" + RMC + "\r\n").encode()
    lines: list[bytes] = []
    for i in range(0, len(stream), 7):
        lines += splitter.feed(stream[i : i + 7])
    assert lines == [GGA.encode(), RMC.encode()]
    assert splitter.feed(b"x" * 500) == []
    assert splitter.overlong == 1
