"""``govedge device idcard``: read the card on a reader, or check its SAM.

    govedge device idcard read URL [--json] [--reveal] [--fingerprint] [--photo FILE]
    govedge device idcard sam URL [--json]

Name, ID number and address are masked unless ``--reveal`` is given. A device error is one
line on stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ID-card reader commands to ``parser``."""
    sub = parser.add_subparsers(dest="idcard_command", metavar="ACTION", required=True)

    read = sub.add_parser("read", help="read the card on the reader (find, select, read)")
    _common(read)
    read.add_argument("--json", action="store_true", help="print one JSON object")
    read.add_argument(
        "--reveal", action="store_true", help="show name, ID number and address unmasked"
    )
    read.add_argument(
        "--fingerprint", action="store_true", help="also read fingerprint data (30 10)"
    )
    read.add_argument("--photo", metavar="FILE", help="write the decoded photo to FILE")
    read.set_defaults(func=_read)

    sam = sub.add_parser("sam", help="check the SAM module and print its id")
    _common(sam)
    sam.add_argument("--json", action="store_true", help="print one JSON object")
    sam.set_defaults(func=_sam)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", metavar="URL", help="/dev/ttyUSB0?baudrate=115200, socket://...")
    parser.add_argument(
        "--timeout", type=float, default=3.0, help="seconds per command (default 3)"
    )
    parser.add_argument("--wlt-library", help="vendor WLT photo decoder (.so) to load")
    parser.add_argument(
        "--simulated",
        action="store_true",
        help="the reader is the simulator: accept its photo format",
    )


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"timeout": args.timeout}
    if args.wlt_library:
        options["wlt_library"] = args.wlt_library
    if getattr(args, "fingerprint", False):
        options["fingerprint"] = True
    if getattr(args, "simulated", False):
        options["simulated"] = True
    return options


def _read(args: argparse.Namespace) -> int:
    from drivers.idcard.polled import make_reader

    reader = make_reader(args.url, _options(args))
    try:
        reader.open()
        card = reader.read_card(fingerprint=args.fingerprint)
    finally:
        reader.close()
    info = card.fields(reveal=args.reveal)
    if args.photo and card.photo is not None:
        with open(args.photo, "wb") as handle:
            handle.write(card.photo)
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
        return 0
    labels = {
        "card_type": "card type",
        "name": "name",
        "sex": "sex",
        "nation": "nation",
        "birth_date": "birth date",
        "address": "address",
        "id_number": "ID number",
        "id_number_valid": "check digit ok",
        "issuer": "issuer",
        "valid_from": "valid from",
        "valid_to": "valid to",
        "expired": "expired",
        "photo_format": "photo",
    }
    for key, label in labels.items():
        value = info.get(key)
        if value not in ("", None) or key in ("name", "id_number"):
            print(f"{label:>15}: {value}")
    for key in ("english_name", "nationality", "pass_number", "issue_count"):
        if info.get(key):
            print(f"{key.replace('_', ' '):>15}: {info[key]}")
    if card.photo_error:
        print(f"{'photo':>15}: not decoded ({card.photo_error})", file=sys.stderr)
    return 0


def _sam(args: argparse.Namespace) -> int:
    from drivers.idcard.polled import make_reader

    reader = make_reader(args.url, _options(args))
    try:
        reader.open()
        info = reader.sam_info()
    finally:
        reader.close()
    if args.json:
        print(json.dumps({"status": info.status, "sam_id": info.sam_id}))
    else:
        print(f"SAM status: {info.status}")
        print(f"SAM id: {info.sam_id}")
    return 0
