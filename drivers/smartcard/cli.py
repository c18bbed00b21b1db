"""``govedge device smartcard {readers,read} [READER] [--json] [--reveal]``.

``readers`` lists the PC/SC readers, with the ATR of the card in each; ``read`` reads the
social-security card (the first reader holding a card, or READER: a name, part of one, or a
pcsc:// URL). Citizen data are masked unless ``--reveal``. Failures are one line on stderr.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

LABELS = {
    "card_number": "卡号 card number",
    "card_id": "卡识别码 card identifier",
    "card_category": "卡类别 category",
    "spec_version": "规范版本 spec version",
    "issuer_code": "初始化机构编号 issuer",
    "issue_date": "发卡日期 issued",
    "expiry_date": "卡有效期 expires",
    "id_number": "社会保障号码 ID number",
    "name": "姓名 name",
    "name_extension": "姓名扩展 name (cont.)",
    "sex": "性别 sex",
    "nation": "民族 nation",
    "birth_place": "出生地 birth place",
    "birth_date": "出生日期 birth date",
}


def register(parser: argparse.ArgumentParser) -> None:
    """Add the PC/SC smart-card commands to ``parser``."""
    sub = parser.add_subparsers(dest="smartcard_command", metavar="ACTION", required=True)
    readers = sub.add_parser("readers", help="list PC/SC readers and card presence")
    readers.add_argument("reader", nargs="?", help="only readers whose name contains this")
    readers.add_argument("--json", action="store_true", help="print JSON")
    readers.set_defaults(func=_readers)
    read = sub.add_parser("read", help="read the social-security card")
    read.add_argument("reader", nargs="?", help="reader name, part of it, or pcsc:// URL")
    read.add_argument("--json", action="store_true", help="print JSON")
    read.add_argument("--reveal", action="store_true", help="show citizen data unmasked")
    read.add_argument(
        "--wait", type=float, default=0.0, metavar="SECONDS", help="wait for a card this long"
    )
    read.set_defaults(func=_read)


def _readers(args: argparse.Namespace) -> int:
    from drivers.smartcard.pcsc import PcscContext

    with PcscContext() as context:
        states = context.states()
    rows: list[dict[str, Any]] = [
        {"reader": s.name, "card_present": s.present, "atr": s.atr.hex(" ").upper()}
        for s in states
        if not args.reader or args.reader.lower() in s.name.lower()
    ]
    if args.json:
        print(json.dumps({"readers": rows}, ensure_ascii=False))
    elif not rows:
        print("no readers")
    else:
        for row in rows:
            card = f"card {row['atr']}" if row["card_present"] else "no card"
            print(f"{row['reader']}: {card}")
    return 0


def _read(args: argparse.Namespace) -> int:
    from drivers.smartcard.errors import NoCardError
    from drivers.smartcard.pcsc import PcscContext, resolve_reader
    from drivers.smartcard.polled import SmartcardDriver, parse_url

    wanted = parse_url(args.reader) if args.reader else None
    with PcscContext() as context:
        if wanted is None:
            present = [s.name for s in context.states() if s.present]
            if not present and args.wait <= 0:
                raise NoCardError("no card in any reader: insert the social-security card")
            wanted = present[0] if present else resolve_reader(context.readers(), None)
        reader = resolve_reader(context.readers(), wanted)
        if args.wait > 0:
            context.wait_for_card(reader, args.wait)
    driver = SmartcardDriver(reader)
    try:
        data = driver.read_social_security(reveal=args.reveal)
    finally:
        driver.close()
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
        return 0
    print(f"reader: {data.pop('reader', reader)}")
    print(f"ATR: {data.pop('atr', '')}")
    sex_label, nation_label = data.pop("sex_label", ""), data.pop("nation_label", "")
    for key, value in data.items():
        if key == "sex" and sex_label:
            value = f"{value} ({sex_label})"
        elif key == "nation" and nation_label:
            value = f"{value} ({nation_label})"
        print(f"{LABELS.get(key, key)}: {value}")
    return 0
