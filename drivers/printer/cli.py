"""``govedge device printer status URL [--json]`` and ``govedge device printer test URL``."""

from __future__ import annotations

import argparse
import json


def register(parser: argparse.ArgumentParser) -> None:
    """Add the receipt-printer commands to ``parser``."""
    sub = parser.add_subparsers(dest="printer_command", metavar="ACTION", required=True)
    status = sub.add_parser("status", help="ask the printer its real-time status (DLE EOT 1-4)")
    status.add_argument(
        "url", help="tcp://HOST[:PORT], a serial device path, /dev/usb/lpN, usb://VID:PID"
    )
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.add_argument("--timeout", type=float, default=1.0, help="seconds to wait for answers")
    status.set_defaults(func=_status)
    test = sub.add_parser("test", help="print a sample Chinese receipt with a QR code and a cut")
    test.add_argument(
        "url", help="tcp://HOST[:PORT], a serial device path, /dev/usb/lpN, usb://VID:PID"
    )
    test.add_argument("--paper", type=int, choices=(58, 80), default=80, help="paper width (mm)")
    test.add_argument(
        "--qr", choices=("native", "image"), default="native", help="QR as GS ( k or as an image"
    )
    test.add_argument("--timeout", type=float, default=1.0, help="seconds to wait for answers")
    test.set_defaults(func=_test)


def _status(args: argparse.Namespace) -> int:
    from drivers.printer.device import EscposPrinter

    with EscposPrinter(args.url, timeout=args.timeout) as printer:
        state = printer.status()
    data = state.as_dict()
    if args.json:
        print(json.dumps({"url": args.url, **data}, ensure_ascii=False))
        return 0
    yes = {True: "yes", False: "no"}
    print(
        f"printer {args.url}: {data['health']}" + (f" ({data['detail']})" if data["detail"] else "")
    )
    print(
        f"  online: {yes[state.online]}  cover open: {yes[state.cover_open]}  "
        f"paper near end: {yes[state.paper_near_end]}  paper out: {yes[state.paper_out]}  "
        f"cutter error: {yes[state.cutter_error]}"
    )
    raw = data["raw"]
    print(
        f"  DLE EOT 1={raw['printer']} 2={raw['offline_cause']} 3={raw['error_cause']} "
        f"4={raw['paper_sensor']}"
    )
    return 0


def _test(args: argparse.Namespace) -> int:
    from drivers.printer.device import EscposPrinter
    from drivers.printer.sample import sample_receipt

    with EscposPrinter(
        args.url, paper=args.paper, qr_mode=args.qr, timeout=args.timeout
    ) as printer:
        printer.print_receipt(sample_receipt(args.paper))
    print(f"printed the sample receipt ({args.paper} mm, QR {args.qr}) on {args.url}")
    return 0
