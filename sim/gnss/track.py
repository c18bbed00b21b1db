"""A track: waypoints visited in order at a constant speed, interpolated along each leg."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from govedge.errors import ConfigError

EARTH_RADIUS_M = 6_371_000.0

# A loop around People's Square, Shanghai (lat, lon in decimal degrees).
CITY_LOOP: tuple[tuple[float, float], ...] = (
    (31.2304, 121.4737),
    (31.2330, 121.4737),
    (31.2330, 121.4780),
    (31.2290, 121.4780),
    (31.2290, 121.4737),
)


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine) in metres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def bearing_deg(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Initial bearing from ``a`` to ``b`` in degrees true (0..360)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    y = math.sin(lon2 - lon1) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    return math.degrees(math.atan2(y, x)) % 360.0


@dataclass(frozen=True, slots=True)
class Position:
    """A point on the track, with speed and course."""

    lat: float
    lon: float
    speed_mps: float
    course: float


class Track:
    """Waypoints travelled at ``speed_mps``; with ``loop`` the last leg returns to the first."""

    def __init__(
        self,
        waypoints: list[tuple[float, float]] | tuple[tuple[float, float], ...],
        speed_mps: float = 5.0,
        loop: bool = True,
    ) -> None:
        points = [(float(lat), float(lon)) for lat, lon in waypoints]
        if not points:
            raise ConfigError("a track needs at least one waypoint")
        for lat, lon in points:
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ConfigError(f"waypoint ({lat}, {lon}) is not a position")
        if speed_mps < 0:
            raise ConfigError("track speed must be >= 0")
        self.waypoints = points
        self.speed_mps = speed_mps
        self.loop = loop
        legs = list(itertools.pairwise(points))
        if loop and len(points) > 1:
            legs.append((points[-1], points[0]))
        self._legs = [(a, b, distance_m(a, b)) for a, b in legs]
        self.length_m = sum(length for _, _, length in self._legs)

    @classmethod
    def city_loop(cls, speed_mps: float = 5.0) -> Track:
        """A loop through the city's streets at ``speed_mps`` (the default track)."""
        return cls(CITY_LOOP, speed_mps)

    @classmethod
    def still(cls, lat: float, lon: float) -> Track:
        """A receiver standing at one position."""
        return cls([(lat, lon)], 0.0)

    def at(self, t: float) -> Position:
        """Where the track is ``t`` seconds after its start."""
        if self.length_m == 0 or self.speed_mps == 0:
            lat, lon = self.waypoints[0]
            return Position(lat, lon, 0.0, 0.0)
        travelled = self.speed_mps * max(0.0, t)
        if self.loop:
            travelled %= self.length_m
        elif travelled >= self.length_m:
            a, b, _ = self._legs[-1]
            return Position(b[0], b[1], 0.0, bearing_deg(a, b))
        for a, b, length in self._legs:
            if travelled <= length and length > 0:
                f = travelled / length
                lat = a[0] + (b[0] - a[0]) * f
                lon = a[1] + (b[1] - a[1]) * f
                return Position(lat, lon, self.speed_mps, bearing_deg(a, b))
            travelled -= length
        a, b, _ = self._legs[-1]
        return Position(b[0], b[1], self.speed_mps, bearing_deg(a, b))
