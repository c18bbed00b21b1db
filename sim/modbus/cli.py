"""``govedge sim modbus``: a simulated sensor bus on a pty, until Ctrl-C.

Devices come from repeated ``--profile P --unit N`` pairs (default: one sht20 at unit 1) or
from a scenario file: ``{"devices": [{"unit": 1, "profile": "sht20",
"curves": {"temperature": {"baseline": 24, "noise": 0.2}}, "silent": [[60, 90]]}]}``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from govedge.errors import ConfigError

DEFAULT_CURVES: dict[str, dict[str, Any]] = {
    "sht20": {"temperature": {"baseline": 30.5}, "humidity": {"baseline": 54.6}},
    "air_quality": {
        "so2": {"baseline": 8},
        "no2": {"baseline": 35},
        "co": {"baseline": 0.8},
        "o3": {"baseline": 60},
        "pm2_5": {"baseline": 35},
        "pm10": {"baseline": 70},
        "temperature": {"baseline": 22.5},
        "humidity": {"baseline": 48},
    },
    "noise": {"noise_db": {"baseline": 55, "noise": 3}},
    "water_level": {"water_level_m": {"baseline": 2.35, "noise": 0.005}},
    "smoke": {"smoke_alarm": {"baseline": 0}, "obscuration": {"baseline": 0.02}},
}


def register(parser: argparse.ArgumentParser) -> None:
    """Add the Modbus bus simulator's options to ``parser``."""
    parser.add_argument("--profile", action="append", default=[], help="profile of a device")
    parser.add_argument(
        "--unit",
        action="append",
        type=int,
        default=[],
        help="unit id of the device given by the matching --profile",
    )
    parser.add_argument("--scenario", type=Path, help="JSON scenario file (devices and curves)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--link", type=Path, help="also make this symlink to the pty")
    parser.set_defaults(func=_run)


def build_devices(args: argparse.Namespace) -> list[Any]:
    """The simulated devices the options describe."""
    from sim.modbus import SimDevice

    devices = []
    if args.scenario is not None:
        try:
            scenario = json.loads(args.scenario.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read scenario {args.scenario}: {exc}") from None
        entries = scenario.get("devices") if isinstance(scenario, dict) else None
        if not isinstance(entries, list):
            raise ConfigError(f"{args.scenario}: 'devices' must be a list")
        for entry in entries:
            if not isinstance(entry, dict) or "profile" not in entry:
                raise ConfigError(f"{args.scenario}: each device needs a 'profile'")
            profile = entry["profile"]
            curves = dict(DEFAULT_CURVES.get(profile, {}))
            curves.update(entry.get("curves", {}))
            silent = [(float(a), float(b)) for a, b in entry.get("silent", [])]
            devices.append(SimDevice(int(entry.get("unit", 1)), profile, curves, silent))
    profiles = args.profile or ([] if devices else ["sht20"])
    units = args.unit or list(range(1, len(profiles) + 1))
    if len(units) != len(profiles):
        raise ConfigError("give one --unit for each --profile (or none at all)")
    for profile, unit in zip(profiles, units, strict=True):
        devices.append(SimDevice(unit, profile, DEFAULT_CURVES.get(profile, {})))
    return devices


def wait_for_signal() -> None:
    """Block until Ctrl-C (SIGINT) or SIGTERM, even where the shell ignored SIGINT."""
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(args: argparse.Namespace) -> int:
    from sim.modbus import ModbusBusSimulator

    sim = ModbusBusSimulator(build_devices(args), latency_s=args.latency)
    sim.start()
    try:
        if args.link is not None:
            if args.link.is_symlink():
                args.link.unlink()
            args.link.symlink_to(sim.url)
        names = ", ".join(f"unit {d.unit} {d.profile.name}" for d in sim.devices)
        print(f"modbus bus listening on {sim.url} ({names})", flush=True)
        wait_for_signal()
    finally:
        sim.stop()
        if args.link is not None and args.link.is_symlink():
            args.link.unlink()
    print("modbus bus stopped", file=sys.stderr)
    return 0
