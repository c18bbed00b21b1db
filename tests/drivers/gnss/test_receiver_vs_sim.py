"""The GNSS driver against the simulated receiver over a real pty."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from drivers.base import PolledDriver
from drivers.gnss.errors import GnssConfigError, GnssTimeout
from drivers.gnss.nmea import frame_sentence
from drivers.gnss.polled import create
from drivers.gnss.receiver import GnssReceiver
from drivers.registry import create_driver
from govedge.health import HealthState
from sim.gnss import GnssSimulator, Track

SQUARE = (31.2304, 121.4737)


@pytest.fixture
def still_sim() -> Iterator[GnssSimulator]:
    sim = GnssSimulator(Track.still(*SQUARE), rate_hz=20).start()
    yield sim
    sim.stop()


def _wait(receiver: GnssReceiver, predicate: object, polls: int = 200) -> dict[str, float]:
    """Poll until ``predicate(reading)`` holds (bounded: the sim talks at 20 Hz)."""
    import time

    reading: dict[str, float] = {}
    for _ in range(polls):
        reading = receiver.poll()
        if predicate(reading):  # type: ignore[operator]
            return reading
        time.sleep(0.01)
    raise AssertionError(f"condition never held; last reading {reading}")


def test_position_from_the_simulator(still_sim: GnssSimulator) -> None:
    receiver = create(still_sim.url, {"timeout": 2.0})
    assert isinstance(receiver, PolledDriver)
    with receiver:
        reading = receiver.poll()
        assert reading["lat"] == pytest.approx(SQUARE[0], abs=1e-6)
        assert reading["lon"] == pytest.approx(SQUARE[1], abs=1e-6)
        assert reading["fix"] == 1
        assert reading["satellites"] == 9
        assert reading["speed_kmh"] == 0
        assert reading["hdop"] == 0.9
        assert receiver.health().state is HealthState.ONLINE


def test_registry_builds_the_gnss_driver(still_sim: GnssSimulator) -> None:
    driver = create_driver("gnss", still_sim.url, {})
    driver.open()
    try:
        assert driver.poll()["fix"] == 1
    finally:
        driver.close()


def test_moving_track_speed_and_course() -> None:
    track = Track([(31.2304, 121.4737), (31.2404, 121.4737)], speed_mps=10.0, loop=False)
    with GnssSimulator(track, rate_hz=20) as sim, create(sim.url, {}) as receiver:
        first = receiver.poll()
        later = _wait(receiver, lambda r: r["lat"] > first["lat"] + 1e-5)
        assert later["speed_kmh"] == pytest.approx(36.0, abs=0.1)
        assert later["course"] == pytest.approx(0.0, abs=0.1)
        assert math.isclose(later["lon"], 121.4737, abs_tol=1e-6)


def test_losing_the_fix_and_bad_checksums_are_reported(still_sim: GnssSimulator) -> None:
    with create(still_sim.url, {}) as receiver:
        receiver.poll()
        still_sim.corrupt(3)
        still_sim.set_fix(0)
        reading = _wait(receiver, lambda r: r["fix"] == 0)
        assert "lat" not in reading
        assert receiver.health().detail.startswith("no fix")
        _wait(receiver, lambda r: receiver.health().counters["bad_checksum"] >= 3)
        still_sim.inject(b"\x00garbage\r\n" + frame_sentence("GPXXX,1").encode())
        still_sim.set_fix(1)
        reading = _wait(receiver, lambda r: r["fix"] == 1)
        assert reading["lat"] == pytest.approx(SQUARE[0], abs=1e-6)
        _wait(receiver, lambda r: receiver.health().counters["unknown"] >= 1)
        report = receiver.health()
        assert report.counters["bad_checksum"] == 3
        assert report.counters["malformed"] == 1  # the garbage line
        assert report.counters["unknown"] == 1  # a valid sentence of a type not used
        assert report.errors == 4


def test_silent_receiver_times_out(still_sim: GnssSimulator) -> None:
    with create(still_sim.url, {"timeout": 0.5}) as receiver:
        receiver.poll()
        still_sim.silence()
        with pytest.raises(GnssTimeout):
            _wait(receiver, lambda r: False)
        assert receiver.health().state is HealthState.OFFLINE


def test_bad_options_name_the_key() -> None:
    with pytest.raises(GnssConfigError, match="unknown field `baud`"):
        create("/dev/null", {"baud": 9600})
    with pytest.raises(GnssConfigError, match=r"options\.timeout"):
        create("/dev/null", {"timeout": 0})


def test_receiver_that_vanishes_is_reported_then_no_device() -> None:
    from drivers.errors import NoDeviceError, TransportError

    sim = GnssSimulator(rate_hz=20).start()
    receiver = create(sim.url, {"timeout": 0.5})
    receiver.open()
    try:
        assert receiver.poll()["fix"] == 1
        sim.stop()
        with pytest.raises((TransportError, GnssTimeout)):
            _wait(receiver, lambda r: False)
        with pytest.raises(NoDeviceError):
            receiver.poll()
        with pytest.raises(NoDeviceError):
            receiver.poll()  # still trying, still nothing there
        assert receiver.health().state is HealthState.NO_DEVICE
    finally:
        receiver.close()
