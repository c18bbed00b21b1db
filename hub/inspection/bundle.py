"""A case's evidence as one zip bundle, and its offline check.

The bundle holds ``manifest.json``; ``records/<seq>.json`` (each record's exact signed bytes)
and ``records/<seq>.sig`` (DER ECDSA P-256 signature) for the run of the device's chain from the
case's first record to its last (records of other tasks in between are included so that every
link can be checked); ``photos/<sha256>.jpg`` for the case's records; and ``certs/``: the device
certificate(s), the fleet intermediate and root. The manifest lists the SHA-256 of every file.

:func:`verify_bundle` needs nothing but the zip (and, to be meaningful, a root the reader trusts:
``trusted_root`` compares it): it says, item by item, what holds.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.engine import Engine

from govedge.contract import evidence as ev
from hub.errors import NotFoundError
from hub.inspection.db import certs, records

FORMAT = "govedge-evidence-bundle/1"


def export_bundle(engine: Engine, task: dict[str, Any], photo_dir: Path, chain_pem: bytes) -> bytes:
    """The zip of ``task``'s evidence (see the module's docstring)."""
    device_id = task["device_id"]
    with engine.connect() as conn:
        span = conn.execute(
            sa.select(sa.func.min(records.c.seq), sa.func.max(records.c.seq)).where(
                records.c.device_id == device_id, records.c.task_id == task["id"]
            )
        ).first()
        if span is None or span[0] is None:
            raise NotFoundError(f"task {task['id']} has no evidence yet")
        rows = conn.execute(
            sa.select(records)
            .where(
                records.c.device_id == device_id,
                records.c.seq >= span[0],
                records.c.seq <= span[1],
            )
            .order_by(records.c.seq)
        ).all()
        serials = sorted({r.cert_serial for r in rows})
        cert_rows = conn.execute(sa.select(certs).where(certs.c.serial.in_(serials))).all()
    files: dict[str, bytes] = {}
    manifest_records = []
    photos = []
    for row in rows:
        in_case = row.task_id == task["id"]
        files[f"records/{row.seq}.json"] = row.body
        files[f"records/{row.seq}.sig"] = row.sig
        manifest_records.append(
            {
                "seq": row.seq,
                "hash": row.hash,
                "task_id": row.task_id,
                "in_case": in_case,
                "cert": f"certs/device-{row.cert_serial}.pem",
            }
        )
        if in_case and row.photo_sha256 and f"photos/{row.photo_sha256}.jpg" not in files:
            files[f"photos/{row.photo_sha256}.jpg"] = (photo_dir / row.photo_sha256).read_bytes()
            photos.append(row.photo_sha256)
    for c in cert_rows:
        files[f"certs/device-{c.serial}.pem"] = c.pem.encode()
    files["certs/chain.pem"] = chain_pem
    manifest = {
        "format": FORMAT,
        "exported": datetime.now(UTC).isoformat(),
        "task": {
            k: task[k]
            for k in (
                "id",
                "site",
                "lat",
                "lon",
                "due",
                "inspector_id",
                "device_id",
                "state",
                "checklist",
            )
        },
        "device_id": device_id,
        "records": manifest_records,
        "photos": photos,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        for name, data in sorted(files.items()):
            zf.writestr(name, data)
    return out.getvalue()


@dataclass(slots=True)
class BundleReport:
    """What holds (``holds``) and the first thing that does not (``problem``)."""

    holds: list[str] = field(default_factory=list)
    problem: str | None = None
    bad_seq: int | None = None

    @property
    def ok(self) -> bool:
        """True when every check held."""
        return self.problem is None

    def text(self) -> str:
        """The report for ``govedge evidence verify``: one line per check that held, then the
        verdict."""
        lines = [f"ok: {h}" for h in self.holds]
        lines.append(f"FAILED: {self.problem}" if self.problem else "the bundle holds")
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        """The report as the API answers it, with the seq of the first bad record if any."""
        return {
            "ok": self.ok,
            "holds": self.holds,
            "problem": self.problem,
            "bad_seq": self.bad_seq,
        }


# What loading and checking a bundled certificate raises when the bundle is wrong: a missing
# member, a short chain, PEM that is not a certificate, a key type or signature that does not fit.
_CERT_ERRORS = (KeyError, IndexError, ValueError, TypeError, InvalidSignature, zipfile.BadZipFile)


def _certs(data: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(data)


def verify_bundle(data: bytes, trusted_root: x509.Certificate | None = None) -> BundleReport:
    """Check a case bundle on its own: certificate chain, signatures, hash chain and photos."""
    report = BundleReport()
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        manifest = json.loads(zf.read("manifest.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        report.problem = f"not an evidence bundle: {exc}"
        return report
    if manifest.get("format") != FORMAT:
        report.problem = f"unknown bundle format {manifest.get('format')!r}"
        return report
    names = set(zf.namelist()) - {"manifest.json"}
    listed = manifest.get("files", {})
    # certificates: device <- intermediate <- root
    try:
        chain = _certs(zf.read("certs/chain.pem"))
        intermediate, root = chain[0], chain[1]
        root.verify_directly_issued_by(root)
        intermediate.verify_directly_issued_by(root)
    except _CERT_ERRORS as exc:
        report.problem = f"the certificate chain does not hold: {exc}"
        return report
    if trusted_root is not None and trusted_root != root:
        report.problem = "the bundle's root certificate is not the trusted root"
        return report
    device_certs: dict[str, x509.Certificate] = {}
    device_id = manifest["device_id"]
    for entry in manifest["records"]:
        name = entry["cert"]
        if name in device_certs:
            continue
        try:
            cert = _certs(zf.read(name))[0]
            cert.verify_directly_issued_by(intermediate)
        except _CERT_ERRORS as exc:
            report.problem = f"{name} was not issued by the bundle's intermediate: {exc}"
            return report
        cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        if not cn or cn[0].value != device_id:
            report.problem = f"{name} is not the certificate of {device_id}"
            return report
        device_certs[name] = cert
    report.holds.append(
        f"{len(device_certs)} device certificate(s) of {device_id} issued by the fleet CA"
        + (" (root trusted)" if trusted_root is not None else " (root as bundled)")
    )
    # records: signatures and links
    prev_hash: str | None = None
    prev_seq: int | None = None
    case_photos: dict[str, int] = {}
    for entry in manifest["records"]:
        seq = entry["seq"]
        key = device_certs[entry["cert"]].public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            report.problem = f"{entry['cert']} holds no elliptic-curve key to check signatures with"
            report.bad_seq = seq
            return report
        body = zf.read(f"records/{seq}.json")
        sig = zf.read(f"records/{seq}.sig")
        checked = ev.check_run(
            [(body, sig)], key, device_id=device_id, prev_hash=prev_hash, prev_seq=prev_seq
        )
        if checked.problem is not None:
            report.problem = checked.problem.text()
            report.bad_seq = checked.problem.seq if checked.problem.seq is not None else seq
            return report
        record = checked.records[0][0]
        if record.seq != seq or ev.record_hash(body) != entry["hash"]:
            report.problem = f"record seq {seq}: the manifest's seq or hash is not the record's"
            report.bad_seq = seq
            return report
        if entry["in_case"] and record.photo_sha256:
            case_photos[record.photo_sha256] = seq
        prev_hash, prev_seq = ev.record_hash(body), record.seq
    report.holds.append(
        f"{len(manifest['records'])} records signed by the device and chained by hash"
    )
    for sha, seq in case_photos.items():
        name = f"photos/{sha}.jpg"
        if name not in names:
            report.problem = f"record seq {seq}: its photo {sha} is missing"
            report.bad_seq = seq
            return report
        if hashlib.sha256(zf.read(name)).hexdigest() != sha:
            report.problem = f"record seq {seq}: its photo does not hash to {sha} (altered)"
            report.bad_seq = seq
            return report
    report.holds.append(f"{len(case_photos)} photos hash to the values their records signed")
    for name, digest in sorted(listed.items()):
        if name not in names:
            report.problem = f"{name} is listed in the manifest but missing"
            return report
        if hashlib.sha256(zf.read(name)).hexdigest() != digest:
            report.problem = f"{name} does not match its hash in the manifest (altered)"
            report.bad_seq = _seq_of(name)
            return report
    if names - set(listed):
        report.problem = f"files not in the manifest: {sorted(names - set(listed))}"
        return report
    report.holds.append(f"{len(listed)} files match the manifest's hashes")
    return report


def _seq_of(name: str) -> int | None:
    if name.startswith("records/"):
        try:
            return int(name.split("/")[1].split(".")[0])
        except ValueError:
            return None
    return None
