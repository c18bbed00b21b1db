"""``govedge sim gnss``: a simulated GNSS receiver on a pty, until Ctrl-C.

The track is the built-in loop around a city centre, or ``--track FILE`` (JSON:
``{"waypoints": [[lat, lon], ...], "speed_mps": 5, "loop": true}``), or ``--still LAT,LON``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from govedge.errors import ConfigError


def register(parser: argparse.ArgumentParser) -> None:
    """Add the GNSS simulator's options to ``parser``."""
    parser.add_argument("--rate", type=float, default=1.0, help="epochs per second (default 1)")
    parser.add_argument("--speed", type=float, default=5.0, help="metres per second on the track")
    parser.add_argument("--track", type=Path, help="JSON track file")
    parser.add_argument("--still", help="stand at LAT,LON instead of moving")
    parser.add_argument("--talker", default="GP", help="talker id (GP, GN, BD, ...)")
    parser.add_argument("--no-fix", action="store_true", help="report no fix")
    parser.add_argument("--link", type=Path, help="also make this symlink to the pty")
    parser.set_defaults(func=_run)


def build_track(args: argparse.Namespace) -> Any:
    """The track the options describe."""
    from sim.gnss import Track

    if args.still:
        try:
            lat, lon = (float(x) for x in args.still.split(","))
        except ValueError:
            raise ConfigError(f"--still wants LAT,LON, not {args.still!r}") from None
        return Track.still(lat, lon)
    if args.track is not None:
        try:
            data = json.loads(args.track.read_text(encoding="utf-8"))
            waypoints = [(float(a), float(b)) for a, b in data["waypoints"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"cannot read track {args.track}: {exc}") from None
        return Track(
            waypoints, float(data.get("speed_mps", args.speed)), bool(data.get("loop", True))
        )
    return Track.city_loop(args.speed)


def _run(args: argparse.Namespace) -> int:
    from sim.gnss import GnssSimulator
    from sim.modbus.cli import wait_for_signal

    if not args.talker.isalpha() or len(args.talker) != 2:
        raise ConfigError(f"--talker wants two letters, not {args.talker!r}")
    if args.rate <= 0:
        raise ConfigError("--rate must be positive")
    sim = GnssSimulator(
        build_track(args),
        rate_hz=args.rate,
        talker=args.talker.upper(),
        fix_quality=0 if args.no_fix else 1,
    )
    sim.start()
    try:
        if args.link is not None:
            if args.link.is_symlink():
                args.link.unlink()
            args.link.symlink_to(sim.url)
        print(f"gnss receiver listening on {sim.url} ({args.rate:g} Hz)", flush=True)
        wait_for_signal()
    finally:
        sim.stop()
        if args.link is not None and args.link.is_symlink():
            args.link.unlink()
    print("gnss receiver stopped", file=sys.stderr)
    return 0
