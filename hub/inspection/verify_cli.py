"""``govedge evidence verify PATH``: check evidence offline and say exactly what holds.

PATH is a case bundle (zip, from ``GET /api/v1/inspection/tasks/{id}/bundle``) or a terminal's
evidence folder (``<state_dir>/evidence``, with ``--cert`` the device certificate). ``--root``
names the fleet root certificate the reader trusts; without it the bundle's own root is used and
the report says so. Exit 0: it holds; 1: it does not (the first bad record is named); 2: usage.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from hub.inspection.bundle import BundleReport


def register(parser: argparse.ArgumentParser) -> None:
    """Add the evidence verify command."""
    sub = parser.add_subparsers(dest="evidence_command", metavar="ACTION", required=True)
    verify = sub.add_parser("verify", help="check a case bundle or a terminal's evidence folder")
    verify.add_argument("path", type=Path, help="bundle (.zip) or evidence folder")
    verify.add_argument("--root", type=Path, help="the trusted fleet root certificate (PEM)")
    verify.add_argument("--cert", type=Path, help="device certificate (for an evidence folder)")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    """Verify a bundle or an evidence folder and print the report; exit 1 when it does not hold."""
    from hub.inspection.bundle import verify_bundle

    try:
        if args.path.is_dir():
            if args.cert is None:
                print("evidence verify: an evidence folder needs --cert", file=sys.stderr)
                return 2
            report = verify_store(args.path, x509.load_pem_x509_certificate(args.cert.read_bytes()))
        else:
            root = None
            if args.root:
                root = x509.load_pem_x509_certificates(args.root.read_bytes())[-1]
            report = verify_bundle(args.path.read_bytes(), root)
    except (OSError, ValueError) as exc:
        print(f"evidence verify: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.as_json(), indent=2) if args.json else report.text())
    return 0 if report.ok else 1


def verify_store(folder: Path, cert: x509.Certificate) -> BundleReport:
    """Every record in a terminal's store: signature, chain, and the photos still held."""
    import hashlib

    from govedge.contract import evidence as ev

    report = BundleReport()
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        report.problem = "the certificate holds no EC key"
        return report
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    device_id = str(names[0].value) if names else ""
    db = sqlite3.connect(f"file:{folder / 'evidence.db'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT seq, body, sig, photo_sha256, acked FROM records ORDER BY seq")
        rows_l = [(int(r[0]), bytes(r[1]), bytes(r[2]), str(r[3]), int(r[4])) for r in rows]
    finally:
        db.close()
    checked = ev.check_run(
        [(b, s) for _, b, s, _, _ in rows_l],
        key,
        device_id=device_id,
        prev_hash=ev.GENESIS if rows_l and rows_l[0][0] == 1 else None,
        prev_seq=0 if rows_l and rows_l[0][0] == 1 else None,
    )
    if checked.problem is not None:
        report.problem = checked.problem.text()
        report.bad_seq = checked.problem.seq
        return report
    report.holds.append(f"{len(rows_l)} records signed by {device_id} and chained by hash")
    held = 0
    for seq, _, _, sha, acked in rows_l:
        if not sha or acked:
            continue
        path = folder / "photos" / sha
        if not path.exists():
            report.problem = f"record seq {seq}: its photo {sha} is missing"
            report.bad_seq = seq
            return report
        if hashlib.sha256(path.read_bytes()).hexdigest() != sha:
            report.problem = f"record seq {seq}: its photo does not hash to {sha} (altered)"
            report.bad_seq = seq
            return report
        held += 1
    report.holds.append(f"{held} photos not yet synced hash to the values their records signed")
    return report
