"""``govedge ledger verify``: walk the proof ledger and name the first entry that does not hold.

Reads the hub's database (``--config`` or ``--database``) and the trust list of proof keys
(``--trust``, by default the one in the config's proof-keys folder) to check the signed
checkpoints. Exit 0: the ledger holds; 1: it does not; 2: bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from govedge.errors import GovedgeError


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ledger verify command."""
    sub = parser.add_subparsers(dest="ledger_command", metavar="ACTION", required=True)
    verify = sub.add_parser("verify", help="walk the chain, the checkpoints and the proof rows")
    verify.add_argument("--config", type=Path, help="hub config file (JSON)")
    verify.add_argument("--database", help="database URL (overrides the config's)")
    verify.add_argument("--trust", type=Path, help="trust list of the proof keys (JSON)")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    """Verify the ledger and print the report; exit 1 when it does not hold, 2 when unreadable."""
    from hub.db import make_engine
    from hub.services.keys import TrustList
    from hub.services.ledger import verify_ledger
    from hub.settings import HubConfig, load_config

    try:
        config = load_config(args.config) if args.config else HubConfig()
        url = args.database or config.database_url
        trust_path = args.trust or Path(config.services.proof_keys_dir) / "trust.json"
        trust = TrustList.from_file(trust_path)
        engine = make_engine(url)
        try:
            report = verify_ledger(engine, trust)
        finally:
            engine.dispose()
    except GovedgeError as exc:
        print(f"ledger verify: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a database that cannot be opened or read
        print(f"ledger verify: cannot read the ledger: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        print(report.text())
    return 0 if report.ok else 1
