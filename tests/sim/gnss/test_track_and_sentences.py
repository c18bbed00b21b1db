"""The receiver simulator: track interpolation, and what it puts on the wire."""

from __future__ import annotations

import os
import select
import tty
from datetime import UTC, datetime

import pytest

from drivers.gnss.nmea import GnssFix, SentenceSplitter, apply, parse_sentence
from govedge.errors import ConfigError
from sim.gnss import GnssSimulator, Track
from sim.gnss.track import bearing_deg, distance_m


def test_distance_and_bearing() -> None:
    # One minute of latitude is one nautical mile (1852 m) to within 0.5 %.
    assert distance_m((31.0, 121.0), (31.0 + 1 / 60, 121.0)) == pytest.approx(1852, rel=5e-3)
    assert bearing_deg((31.0, 121.0), (31.0, 121.1)) == pytest.approx(90.0, abs=0.1)


def test_track_interpolates_and_loops() -> None:
    track = Track([(0.0, 0.0), (0.0, 0.01)], speed_mps=10.0, loop=True)
    leg = distance_m((0.0, 0.0), (0.0, 0.01))
    half = track.at(leg / 20)
    assert half.lon == pytest.approx(0.005) and half.course == pytest.approx(90.0)
    back = track.at(leg / 10 + leg / 20)
    assert back.lon == pytest.approx(0.005) and back.course == pytest.approx(270.0)
    assert track.at(2 * leg / 10).lon == pytest.approx(0.0, abs=1e-9)


def test_track_end_without_loop_and_bad_tracks() -> None:
    track = Track([(1.0, 1.0), (1.001, 1.0)], speed_mps=1.0, loop=False)
    end = track.at(1e6)
    assert (end.lat, end.speed_mps) == (1.001, 0.0)
    with pytest.raises(ConfigError):
        Track([])
    with pytest.raises(ConfigError):
        Track([(91.0, 0.0)])


def test_epoch_sentences_parse_back_to_the_track() -> None:
    start = datetime(2026, 3, 1, 8, 30, 0, tzinfo=UTC)
    sim = GnssSimulator(Track.still(-33.8568, 151.2153), start_time=start, talker="GN")
    fix = GnssFix()
    for sentence in sim.sentences(1.5):
        parsed = parse_sentence(sentence)
        assert parsed.talker == "GN"
        apply(fix, parsed)
    assert fix.lat == pytest.approx(-33.8568, abs=1e-6)
    assert fix.lon == pytest.approx(151.2153, abs=1e-6)
    assert fix.timestamp == datetime(2026, 3, 1, 8, 30, 1, 500000, tzinfo=UTC)
    assert (fix.quality, fix.fix_type, fix.satellites) == (1, 3, 9)


def test_wire_carries_checksummed_epochs_at_the_rate() -> None:
    with GnssSimulator(rate_hz=50) as sim:
        fd = os.open(sim.url, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(fd)
        try:
            splitter = SentenceSplitter()
            kinds: list[str] = []
            while len(kinds) < 9:
                ready, _, _ = select.select([fd], [], [], 2.0)
                assert ready, "the simulator went quiet"
                for line in splitter.feed(os.read(fd, 1024)):
                    kinds.append(parse_sentence(line).kind)
        finally:
            os.close(fd)
    assert set(kinds) == {"RMC", "GGA", "GSA"}


def test_unread_pty_does_not_block_the_simulator() -> None:
    with GnssSimulator(rate_hz=500) as sim:
        import time

        deadline = time.monotonic() + 5
        while sim.dropped == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sim.dropped > 0  # it kept talking with nobody listening
