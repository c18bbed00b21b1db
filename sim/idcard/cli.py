"""``govedge sim idcard``: run the simulated ID-card reader on a pty until Ctrl-C.

    govedge sim idcard [--card NAME] [--fault FAULT ...] [--delay S] [--list]

Prints the pty path to give to a driver (``govedge device idcard read /dev/pts/N``).
"""

from __future__ import annotations

import argparse
import sys
import threading

from govedge.errors import GovedgeError


class SimCommandError(GovedgeError):
    """A bad card or fault name on the command line."""


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ID-card reader simulator's options to ``parser``."""
    parser.add_argument("--card", default="valid", help="card on the reader (see --list)")
    parser.add_argument("--no-card", action="store_true", help="start with the reader empty")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="FAULT",
        help="no_card, card_removed, bad_checksum, torn_frame, noise, slow_sam, sam_fault, "
        "sam_unauthorised, status:CCPP:SS (repeatable)",
    )
    parser.add_argument("--delay", type=float, default=0.5, help="slow_sam delay (s)")
    parser.add_argument("--list", action="store_true", help="list the deck and exit")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    from sim.idcard.deck import build_deck
    from sim.idcard.server import IdCardSimulator, SimConfigError

    if args.list:
        for key, card in build_deck().items():
            print(f"{key:16} {card.card_type:28} {card.description}")
        return 0
    try:
        sim = IdCardSimulator(None if args.no_card else args.card, args.fault, args.delay)
    except SimConfigError as exc:
        raise SimCommandError(str(exc)) from None
    with sim:
        print(sim.url, flush=True)
        print(
            f"simulated ID-card reader on {sim.url} (card: {sim.card.key if sim.card else 'none'}"
            f"; faults: {', '.join(args.fault) or 'none'}); Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        try:
            (stop or threading.Event()).wait()
        except KeyboardInterrupt:
            pass
    return 0
