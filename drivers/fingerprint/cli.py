"""``govedge device fingerprint {info,enroll,verify,search,delete,count} URL ...``.

One-shot commands for technicians. A device error is one line on stderr and exit status 1
(raised as a GovedgeError for ``govedge.cli.main`` to print). ``verify`` and ``search`` also
exit 1 when the finger does not match or is not found, like grep, so that scripts can test it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from govedge.errors import ConfigError


def _template_id(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"template id {text!r} is not a number") from None
    if not 0 <= value <= 0xFFFF:
        raise argparse.ArgumentTypeError(f"template id {value} is not in 0..65535")
    return value


def _u32(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 0xFFFFFFFF:
        raise argparse.ArgumentTypeError(f"{text} is not a 32-bit value")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{text} s is not in 0..3600")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "url",
        metavar="URL",
        help="serial port or URL: /dev/ttyUSB0, /dev/pts/3?baudrate=57600, "
        "serial:///dev/ttyS1?baud=115200, socket://host:port (57600 baud by default)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--password", type=_u32, default=0, help="handshake password (default 0x00000000)"
    )
    parser.add_argument(
        "--address", type=_u32, default=0xFFFFFFFF, help="module address (default 0xFFFFFFFF)"
    )
    parser.add_argument(
        "--timeout", type=_seconds, default=2.0, help="seconds to wait for each answer"
    )
    parser.add_argument(
        "--wait", type=_seconds, default=10.0, help="seconds to wait for a finger (default 10)"
    )


def register(parser: argparse.ArgumentParser) -> None:
    """Add the fingerprint commands to ``parser``."""
    sub = parser.add_subparsers(dest="fingerprint_command", metavar="COMMAND", required=True)

    info = sub.add_parser("info", help="system parameters and template count")
    _common(info)
    info.set_defaults(func=_run, action="info")

    count = sub.add_parser("count", help="number of stored templates")
    _common(count)
    count.set_defaults(func=_run, action="count")

    enroll = sub.add_parser("enroll", help="capture one finger twice and store it at ID")
    _common(enroll)
    enroll.add_argument("id", metavar="ID", type=_template_id, help="template id to store at")
    enroll.set_defaults(func=_run, action="enroll")

    verify = sub.add_parser("verify", help="capture a finger and match it against ID (1:1)")
    _common(verify)
    verify.add_argument("id", metavar="ID", type=_template_id, help="stored template id")
    verify.set_defaults(func=_run, action="verify")

    search = sub.add_parser("search", help="capture a finger and search the library (1:N)")
    _common(search)
    search.set_defaults(func=_run, action="search")

    delete = sub.add_parser("delete", help="delete the template at ID (or --all)")
    _common(delete)
    delete.add_argument("id", metavar="ID", type=_template_id, nargs="?", help="template id")
    delete.add_argument("--count", type=_template_id, default=1, help="templates from ID on")
    delete.add_argument("--all", action="store_true", help="empty the whole library")
    delete.set_defaults(func=_run, action="delete")


def _run(args: argparse.Namespace) -> int:
    from drivers.fingerprint.module import FingerprintModule, ModuleSettings

    if args.action == "delete" and (args.id is None) == (not args.all):
        raise ConfigError("fingerprint delete: give a template ID or --all, not both")
    settings = ModuleSettings(
        password=args.password,
        address=args.address,
        timeout=args.timeout,
        finger_timeout=args.wait,
    )
    with FingerprintModule(args.url, settings) as module:
        result, status = _perform(module, args)
    _print(result, args)
    return status


def _perform(module: Any, args: argparse.Namespace) -> tuple[dict[str, Any], int]:
    action = args.action
    if action == "info":
        return module.info(), 0
    if action == "count":
        return module.count(), 0
    if action == "enroll":
        return module.enroll(args.id), 0
    if action == "verify":
        result = module.verify(args.id)
        return result, 0 if result["match"] else 1
    if action == "search":
        result = module.identify()
        return result, 0 if result["found"] else 1
    if args.all:
        return module.clear(), 0
    return module.delete(args.id, args.count), 0


def _print(result: dict[str, Any], args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return
    action = args.action
    if action == "info":
        for key, value in result.items():
            shown = f"0x{value:08X}" if key == "address" else value
            print(f"{key}: {shown}")
    elif action == "count":
        print(result["count"])
    elif action == "enroll":
        print(f"enrolled at {result['id']}")
    elif action == "verify":
        verdict = "match" if result["match"] else "no match"
        print(f"{verdict} with {result['id']} (score {result['score']})")
    elif action == "search":
        if result["found"]:
            print(f"found {result['id']} (score {result['score']})")
        else:
            print("not found")
    elif "cleared" in result:
        print("library emptied")
    else:
        print(f"deleted {result['deleted']} from {result['id']}")
