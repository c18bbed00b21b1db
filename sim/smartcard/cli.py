"""``govedge sim smartcard [--host H] [--port N] [--holder NAME] ...``: put a simulated
social-security card into vpcd's reader and keep it there until interrupted.

With ``--private-pcscd`` it first starts its own pcscd with vpcd (see ``sim.smartcard.pcscd``)
and prints the PCSCLITE_CSOCK_NAME that points `govedge device smartcard` at it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from sim.smartcard.holders import DECK
from sim.smartcard.vpcd import DEFAULT_PORT


def register(parser: argparse.ArgumentParser) -> None:
    """Add the smart-card simulator's options to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="where vpcd listens (127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"vpcd port ({DEFAULT_PORT}: first slot)"
    )
    parser.add_argument("--holder", default="zhang", choices=sorted(DECK), help="card holder")
    parser.add_argument(
        "--get-response", action="store_true", help="answer 61xx and serve data by GET RESPONSE"
    )
    parser.add_argument("--strict-le", action="store_true", help="answer 6Cxx to an inexact Le")
    parser.add_argument(
        "--netns", metavar="PATH", help="connect from this network namespace (/proc/PID/ns/net)"
    )
    parser.add_argument(
        "--private-pcscd",
        action="store_true",
        help="start a private pcscd with vpcd (root) and print its PCSCLITE_CSOCK_NAME",
    )
    parser.add_argument(
        "--connect-timeout", type=float, default=10.0, metavar="S", help="give up after S seconds"
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from sim.smartcard.card import CardOptions, SocialSecurityCardModel
    from sim.smartcard.errors import SmartcardSimError
    from sim.smartcard.pcscd import PrivatePcscd
    from sim.smartcard.virtual import VirtualCard

    model = SocialSecurityCardModel(
        DECK[args.holder],
        options=CardOptions(get_response=args.get_response, strict_le=args.strict_le),
    )
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)  # stop cleanly: remove the card, stop pcscd
    stack = PrivatePcscd(vpcd_port=args.port).start() if args.private_pcscd else None
    netns = stack.netns if stack is not None else args.netns
    card = VirtualCard(model, host=args.host, port=args.port, netns=netns).start()
    try:
        if not card.wait_connected(args.connect_timeout):
            if card.error:
                raise SmartcardSimError(card.error)
            raise SmartcardSimError(
                f"vpcd is not listening on {card.where} (is pcscd running with vsmartcard-vpcd?)"
            )
        print(f"smartcard simulator: card {args.holder!r} inserted into vpcd at {card.where}")
        if stack is not None:
            print(f"private pcscd: export PCSCLITE_CSOCK_NAME={stack.socket_path}")
        sys.stdout.flush()
        threading.Event().wait()
    finally:
        card.stop()
        if stack is not None:
            stack.close()
    return 0


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
