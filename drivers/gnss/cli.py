"""``govedge device gnss read URL [--json]``: the receiver's current fix."""

from __future__ import annotations

import argparse
import json

FIX_NAMES = {
    0: "no fix",
    1: "GPS",
    2: "DGPS",
    3: "PPS",
    4: "RTK fixed",
    5: "RTK float",
    6: "dead reckoning",
    7: "manual",
    8: "simulation",
}


def register(parser: argparse.ArgumentParser) -> None:
    """Add the GNSS commands to ``parser``."""
    sub = parser.add_subparsers(dest="gnss_command", metavar="ACTION", required=True)
    read = sub.add_parser("read", help="print the current position fix")
    read.add_argument("url", help="serial URL: /dev/ttyUSB0?baudrate=9600, /dev/pts/N, ...")
    read.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for sentences")
    read.add_argument("--json", action="store_true", help="print a JSON object")
    read.set_defaults(func=_read)


def _read(args: argparse.Namespace) -> int:
    from drivers.gnss.polled import create

    receiver = create(args.url, {"timeout": args.timeout})
    with receiver:
        receiver.poll()
        fields = receiver.describe()
        counters = receiver.health().counters
    if args.json:
        print(json.dumps(fields))
        return 0
    name = FIX_NAMES.get(fields["fix"], str(fields["fix"]))
    if fields["lat"] is None:
        print(f"no fix; satellites {fields['satellites']}")
    else:
        print(f"lat {fields['lat']:.7f} lon {fields['lon']:.7f} fix {fields['fix']} ({name})")
        print(
            f"satellites {fields['satellites']} hdop {fields['hdop']} "
            f"altitude {fields['altitude']} m speed {fields['speed_kmh']} km/h "
            f"course {fields['course']}"
        )
    if fields["time"]:
        print(f"time {fields['time']}")
    if counters["bad_checksum"] or counters["malformed"]:
        bad, malformed = counters["bad_checksum"], counters["malformed"]
        print(f"rejected sentences: {bad} bad checksum, {malformed} malformed")
    return 0
