"""``govedge sim printer [--port N] [--out DIR]``: an ESC/POS printer on TCP until Ctrl-C.

It prints where it listens and where receipts go, then one line per printed receipt. Lines on
standard input change its state: ``paper-out on|off``, ``near-end on|off``, ``cover on|off``,
``cutter on|off``, ``status``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from pathlib import Path

_STATE_WORDS = {
    "paper-out": "paper_out",
    "near-end": "paper_near_end",
    "cover": "cover_open",
    "cutter": "cutter_error",
}


def register(parser: argparse.ArgumentParser) -> None:
    """Add the printer simulator's options to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    parser.add_argument("--out", type=Path, help="directory for receipt PNGs (default: temp)")
    parser.add_argument("--paper", type=int, choices=(58, 80), default=80, help="paper width (mm)")
    parser.add_argument("--paper-out", action="store_true", help="start with the paper out")
    parser.add_argument("--near-end", action="store_true", help="start with the paper near end")
    parser.add_argument("--cover-open", action="store_true", help="start with the cover open")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the receipt-printer simulator until interrupted."""
    from govedge.errors import GovedgeError
    from sim.printer.server import PrinterSimulator

    out = args.out or Path(tempfile.mkdtemp(prefix="govedge-printer-"))
    out.mkdir(parents=True, exist_ok=True)
    try:
        sim = PrinterSimulator(args.host, args.port, paper=args.paper, out_dir=out)
    except OSError as exc:
        raise GovedgeError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    initial = {"paper_out": args.paper_out, "paper_near_end": args.near_end}
    initial["cover_open"] = args.cover_open
    if any(initial.values()):
        sim.set_state(**initial)
    sim.start()
    print(f"printer simulator listening on {sim.url} ({args.paper} mm); receipts in {out}")
    sys.stdout.flush()
    threading.Thread(target=_control, args=(sim,), daemon=True).start()
    shown = 0
    try:
        while True:
            receipts = sim.wait_for_receipts(shown + 1, timeout=0.5)
            for receipt in receipts[shown:]:
                qr = f", QR {len(receipt.qr_payloads)}" if receipt.qr_payloads else ""
                print(
                    f"receipt {receipt.number}: {len(receipt.text_lines)} lines{qr}, "
                    f"cut {receipt.cut or 'none'} -> {receipt.png}",
                    flush=True,
                )
            shown = len(receipts)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    print(f"printer simulator stopped after {shown} receipt(s)", flush=True)
    return 0


def _control(sim: object) -> None:
    from sim.printer.server import PrinterSimulator

    assert isinstance(sim, PrinterSimulator)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words == ["status"]:
            print(f"state {sim.snapshot()}", flush=True)
        elif len(words) == 2 and words[0] in _STATE_WORDS and words[1] in ("on", "off"):
            state = sim.set_state(**{_STATE_WORDS[words[0]]: words[1] == "on"})
            print(f"state {state}", flush=True)
        else:
            print("commands: paper-out|near-end|cover|cutter on|off, status", file=sys.stderr)
