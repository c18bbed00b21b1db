"""Great-circle distances against figures worked out by hand."""

from __future__ import annotations

import math

from hub.emergency.geo import EARTH_RADIUS_M, distance_m


def test_quarter_meridian_and_equator_degree() -> None:
    quarter = math.pi / 2 * EARTH_RADIUS_M
    assert abs(distance_m(0, 0, 90, 0) - quarter) < 1e-6
    assert abs(distance_m(0, 0, 0, 1) - EARTH_RADIUS_M * math.pi / 180) < 1e-6
    assert distance_m(31.2, 121.5, 31.2, 121.5) == 0


def test_beijing_to_shanghai_is_about_1067_km() -> None:
    # Tiananmen (39.9055, 116.3976) to the Bund (31.2400, 121.4900): ~1067 km by great circle.
    d = distance_m(39.9055, 116.3976, 31.2400, 121.4900)
    assert 1_060_000 < d < 1_075_000
