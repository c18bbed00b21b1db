"""``govedge sim fingerprint``: a simulated R30x module on a pty until Ctrl-C.

It prints the port to give the driver, then reads control lines on stdin:
``place NAME [QUALITY]``, ``tap NAME``, ``lift``, ``fault NAME [TIMES]``,
``code INSTRUCTION CODE`` (hex or decimal). End of input leaves it running.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any


def register(parser: argparse.ArgumentParser) -> None:
    """Add the fingerprint-sensor simulator's options to ``parser``."""
    parser.add_argument(
        "--templates",
        type=int,
        default=0,
        metavar="N",
        help="preload N synthetic templates (fingers finger-0 .. finger-N-1 at ids 0 .. N-1)",
    )
    parser.add_argument("--finger", metavar="NAME", help="a finger on the sensor from the start")
    parser.add_argument(
        "--tap", action="store_true", help="the finger is lifted after each capture and comes back"
    )
    parser.add_argument("--library-size", type=int, default=200, help="library capacity")
    parser.add_argument(
        "--packet-size",
        type=int,
        default=128,
        choices=[32, 64, 128, 256],
        help="data packet size reported by ReadSysPara",
    )
    parser.add_argument("--password", type=lambda t: int(t, 0), default=0, help="password")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from govedge.errors import ConfigError
    from sim.fingerprint.server import FingerprintSimulator
    from sim.fingerprint.templates import preset_finger

    if not 0 <= args.templates <= args.library_size:
        raise ConfigError(f"--templates must be in 0..{args.library_size}")
    sim = FingerprintSimulator(
        library_size=args.library_size, packet_size=args.packet_size, password=args.password
    )
    for index in range(args.templates):
        sim.module.enroll(index, preset_finger(index))
    if args.finger:
        sim.module.place_finger(args.finger, tap=args.tap)
    sim.start()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        print(sim.url, flush=True)
        print(
            f"fingerprint module simulator on {sim.url} ({args.templates} templates); "
            "stdin: place NAME | tap NAME | lift | fault NAME | code INSTR CODE; Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )
        _control(sim.module)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _control(module: Any) -> None:
    """Apply control lines from stdin until it ends; bad lines are reported, never fatal."""
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            _apply(module, words)
        except (ValueError, IndexError) as exc:
            print(f"sim fingerprint: ignored {line.strip()!r}: {exc}", file=sys.stderr, flush=True)
            continue
        print(f"ok {' '.join(words)}", file=sys.stderr, flush=True)


def _apply(module: Any, words: list[str]) -> None:
    verb = words[0]
    if verb == "place":
        module.place_finger(words[1], words[2] if len(words) > 2 else "good")
    elif verb == "tap":
        module.place_finger(words[1], tap=True)
    elif verb == "lift":
        module.lift_finger()
    elif verb == "fault":
        module.inject(words[1], int(words[2]) if len(words) > 2 else 1)
    elif verb == "code":
        module.force_code(int(words[1], 0), int(words[2], 0))
    else:
        raise ValueError(f"unknown control {verb!r}")
