"""Who is in a simulated fleet: device ids, kinds, districts, sites, places and normal values.

The layout is generated from a size and a seed, so a scenario that names "the river gauges" or
"district d1" selects the same devices in every run and in both modes.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from govedge.errors import ConfigError

# kind -> (model, normal values). Quantity names follow the sensor profiles of drivers/modbus.
KINDS: dict[str, tuple[str, dict[str, float]]] = {
    "river_gauge": ("water-level-cabinet", {"water_level_m": 2.35}),
    "air_station": (
        "air-quality-cabinet",
        {"pm2_5": 35.0, "pm10": 70.0, "temperature": 22.5, "humidity": 48.0},
    ),
    "building_sensor": (
        "smoke-cabinet",
        {"room.temperature": 22.0, "room.humidity": 45.0, "smoke_alarm": 0.0, "obscuration": 0.02},
    ),
    # paper_out as the ESC/POS printer driver reports it (DLE EOT 4): 1 when out of paper.
    "kiosk": ("hall-kiosk", {"paper_out": 0.0, "sessions": 0.0}),
    # A field inspector's mobile terminal: its GNSS fix (lat and lon are the device's own place).
    "inspector": ("inspector-terminal", {"speed_kmh": 0.0, "satellites": 9.0, "fix": 1.0}),
}
POSITION = ("lat", "lon")
KIND_ORDER = tuple(KINDS)
CITY_LAT, CITY_LON = 30.2741, 120.1551  # the same city centre as the demo
SELECTOR_KEYS = frozenset({"kind", "district", "site", "model", "first", "ids"})


@dataclass(frozen=True, slots=True)
class SimDeviceSpec:
    """One simulated device. ``order`` numbers devices of one kind (river gauges upstream first)."""

    device_id: str
    kind: str
    model: str
    district: str
    site: str
    lat: float
    lon: float
    order: int
    baseline: Mapping[str, float] = field(default_factory=dict)

    def registration(self) -> dict[str, Any]:
        """The body of the hub's POST /api/v1/devices for this device."""
        return {
            "id": self.device_id,
            "model": self.model,
            "site": self.site,
            "location": {"lat": self.lat, "lon": self.lon},
            "labels": {"district": self.district, "kind": self.kind, "simulated": "true"},
            "firmware": "sim-1",
        }


@dataclass(frozen=True, slots=True)
class FleetLayout:
    """The simulated fleet's devices."""

    devices: tuple[SimDeviceSpec, ...]

    @classmethod
    def generate(cls, n: int, seed: int = 1, prefix: str = "sim") -> FleetLayout:
        """``n`` devices, the four kinds in turn, in ``max(1, min(20, n // 50))`` districts."""
        if n < 1:
            raise ConfigError("a fleet needs at least one device")
        rng = random.Random(seed)  # noqa: S311 - a reproducible simulated fleet, not security
        districts = max(1, min(20, n // 50))
        counts = dict.fromkeys(KIND_ORDER, 0)
        out = []
        for i in range(n):
            kind = KIND_ORDER[i % len(KIND_ORDER)]
            order = counts[kind]
            counts[kind] += 1
            district = f"d{order % districts}"
            model, normal = KINDS[kind]
            if kind == "river_gauge":
                # Upstream to downstream along a line across the city.
                lat = CITY_LAT - 0.15 + 0.3 * order / max(1, n // 4)
                lon = CITY_LON - 0.2 + 0.4 * order / max(1, n // 4)
                site = f"{district}-river"
            else:
                lat = CITY_LAT + rng.uniform(-0.15, 0.15)
                lon = CITY_LON + rng.uniform(-0.2, 0.2)
                building = (order // districts) % 5
                site = {
                    "building_sensor": f"{district}-bldg-{building}",
                    "kiosk": f"{district}-hall",
                    "inspector": f"{district}-patrol",
                }.get(kind, f"{district}-station")
            out.append(
                SimDeviceSpec(
                    device_id=f"{prefix}-{kind.split('_')[0]}-{order:05d}",
                    kind=kind,
                    model=model,
                    district=district,
                    site=site,
                    lat=round(lat, 6),
                    lon=round(lon, 6),
                    order=order,
                    baseline=(
                        {**normal, "lat": round(lat, 6), "lon": round(lon, 6)}
                        if kind == "inspector"
                        else dict(normal)
                    ),
                )
            )
        return cls(tuple(out))

    def select(self, selector: Mapping[str, Any]) -> list[SimDeviceSpec]:
        """Devices matching every key of ``selector`` (kind, district, site, model, ids), then the
        ``first`` N of them. An empty selector selects all."""
        unknown = set(selector) - SELECTOR_KEYS
        if unknown:
            raise ConfigError(f"unknown selector key {sorted(unknown)[0]!r}")
        ids = set(selector.get("ids", ()))
        picked = [
            d
            for d in self.devices
            if all(
                getattr(d, key) == selector[key]
                for key in ("kind", "district", "site", "model")
                if key in selector
            )
            and (not ids or d.device_id in ids)
        ]
        if "first" in selector:
            picked = picked[: int(selector["first"])]
        return picked

    def by_id(self) -> dict[str, SimDeviceSpec]:
        """The layout's devices by device id."""
        return {d.device_id: d for d in self.devices}

    def ids(self, specs: Iterable[SimDeviceSpec] | None = None) -> list[str]:
        """The device ids of ``specs``, or of every device in the layout when it is None."""
        return [d.device_id for d in (self.devices if specs is None else specs)]
