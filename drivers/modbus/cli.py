"""``govedge device modbus read URL --profile NAME [--unit N] [--json]``: one reading."""

from __future__ import annotations

import argparse
import json


def register(parser: argparse.ArgumentParser) -> None:
    """Add the Modbus commands to ``parser``."""
    sub = parser.add_subparsers(dest="modbus_command", metavar="ACTION", required=True)
    read = sub.add_parser("read", help="read every quantity of one sensor once")
    read.add_argument("url", help="serial URL: /dev/ttyUSB0?baudrate=9600, /dev/pts/N, socket://..")
    read.add_argument("--profile", required=True, help="profile name (sht20, ...) or JSON file")
    read.add_argument("--unit", type=int, default=1, help="Modbus unit id 1..247 (default 1)")
    read.add_argument("--timeout", type=float, default=1.0, help="seconds to wait per answer")
    read.add_argument("--retries", type=int, default=1, help="extra attempts after a failure")
    read.add_argument("--json", action="store_true", help="print a JSON object quantity -> value")
    read.set_defaults(func=_read)
    profiles = sub.add_parser("profiles", help="list the shipped sensor profiles")
    profiles.add_argument("--json", action="store_true")
    profiles.set_defaults(func=_profiles)


def _read(args: argparse.Namespace) -> int:
    from drivers.modbus.polled import create

    sensor = create(
        args.url,
        {
            "profile": args.profile,
            "unit": args.unit,
            "timeout": args.timeout,
            "retries": args.retries,
        },
    )
    with sensor:
        values = sensor.poll()
    if args.json:
        print(json.dumps(values, ensure_ascii=False))
        return 0
    for quantity in sensor.profile.quantities:
        unit = f" {quantity.unit}" if quantity.unit else ""
        print(f"{quantity.name}: {values[quantity.name]:g}{unit}")
    return 0


def _profiles(args: argparse.Namespace) -> int:
    from drivers.modbus.profiles import available_profiles, load_profile

    names = available_profiles()
    if args.json:
        print(json.dumps({n: [q.name for q in load_profile(n).quantities] for n in names}))
        return 0
    for name in names:
        profile = load_profile(name)
        print(f"{name}: {', '.join(q.name for q in profile.quantities)} - {profile.description}")
    return 0
