"""What the operator console shows of inspection tasks: a filtered page of tasks with their
evidence counts, and one task's case (its records as recorded, their photos, and whether the
evidence the hub holds still verifies: signatures, chain links, photo hashes, the device
certificates against the fleet CA), with any refusal still outstanding for its terminal.

The check reads the stored bytes again rather than trusting the check made on arrival, so a
record or photo changed at rest on the hub is found and named, as ``govedge evidence verify``
would name it in the case's bundle.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.engine import Engine

from govedge.contract import evidence as ev
from hub.inspection.db import certs, records, refusals, tasks
from hub.inspection.tasks import STATES, _row

PAGE = 50


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def task_page(
    engine: Engine,
    *,
    state: str | None = None,
    site: str | None = None,
    assignee: str | None = None,
    q: str | None = None,
    offset: int = 0,
    limit: int = PAGE,
) -> dict[str, Any]:
    """Tasks by due date, filtered (``assignee``: the inspector or the terminal), with each
    one's record and photo counts, the total, and the values each filter can take."""
    where = []
    if state:
        where.append(tasks.c.state == state)
    if site:
        where.append(tasks.c.site == site)
    if assignee:
        where.append(sa.or_(tasks.c.inspector_id == assignee, tasks.c.device_id == assignee))
    if q:
        pattern = _like(q)
        where.append(
            sa.or_(tasks.c.id.like(pattern, escape="\\"), tasks.c.site.like(pattern, escape="\\"))
        )
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(tasks).where(*where)).scalar()
        rows = conn.execute(
            sa.select(tasks)
            .where(*where)
            .order_by(tasks.c.due, tasks.c.id)
            .offset(offset)
            .limit(limit)
        ).all()
        ids = [r.id for r in rows]
        counts = {
            r.task_id: (int(r.n), int(r.photos))
            for r in conn.execute(
                sa.select(
                    records.c.task_id,
                    sa.func.count().label("n"),
                    sa.func.count(sa.func.nullif(records.c.photo_sha256, "")).label("photos"),
                )
                .where(records.c.task_id.in_(ids))
                .group_by(records.c.task_id)
            )
        }
        refused = {
            r.device_id: r.task_id
            for r in conn.execute(sa.select(refusals.c.device_id, refusals.c.task_id))
        }
        states: dict[str, int] = {
            str(r[0]): int(r[1])
            for r in conn.execute(sa.select(tasks.c.state, sa.func.count()).group_by(tasks.c.state))
        }

        def distinct(column: sa.Column[str]) -> list[str]:
            return [str(r[0]) for r in conn.execute(sa.select(column).distinct().order_by(column))]

        sites = distinct(tasks.c.site)
        inspectors = distinct(tasks.c.inspector_id)
        devices = distinct(tasks.c.device_id)
        known = [r[0] for r in conn.execute(sa.select(certs.c.device_id).distinct())]
    items = []
    for row in rows:
        item = _row(row)
        n, photos = counts.get(row.id, (0, 0))
        item["records"] = n
        item["photos"] = photos
        item["refused"] = refused.get(row.device_id) == row.id
        items.append(item)
    return {
        "items": items,
        "total": int(total or 0),
        "facets": {
            "states": {s: int(states.get(s, 0)) for s in STATES},
            "sites": sites,
            "inspectors": inspectors,
            "devices": devices,
            "terminals": sorted(set(devices) | set(known)),
        },
    }


def _record_json(row: Any, record: ev.EvidenceRecord | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "seq": row.seq,
        "hash": row.hash,
        "received": row.received,
        "photo_sha256": row.photo_sha256,
    }
    if record is not None:
        out.update(
            item_id=record.item_id,
            answer=record.answer,
            note=record.note,
            photo_size=record.photo_size,
            fix=record.fix,
            position=None
            if record.position is None
            else {
                "lat": record.position.lat,
                "lon": record.position.lon,
                "quality": record.position.quality,
                "satellites": record.position.satellites,
                "hdop": record.position.hdop,
                "fix_age_s": record.position.fix_age_s,
            },
            device_time=record.device_time,
            since_contact_s=record.since_contact_s,
            inspector_id=record.inspector_id,
        )
    return out


def _photo_problem(photo_dir: Path, sha: str, size: int) -> str | None:
    path = photo_dir / sha
    try:
        st = path.stat()
    except FileNotFoundError:
        return f"its photo {sha} is missing from the hub"
    return _hash_check(str(path), sha, size, st.st_size, st.st_ctime_ns, st.st_ino)


@functools.lru_cache(maxsize=4096)
def _hash_check(
    path: str, sha: str, size: int, held: int, _ctime_ns: int, _inode: int
) -> str | None:
    """The photo's problem, if any; remembered while its size, inode and change time stay the
    same (a write changes the change time, and no tool sets it back), so a console open on a
    case does not hash its photos again at every refresh."""
    if held != size:
        return f"its photo is {held} bytes, not the {size} signed (altered)"
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        return f"its photo {sha} is missing from the hub"
    if digest.hexdigest() != sha:
        return f"its photo does not hash to {sha} (altered)"
    return None


def case_view(engine: Engine, photo_dir: Path, task: dict[str, Any], ca: Any) -> dict[str, Any]:
    """One task's records (oldest first) and the verification of what the hub holds: the run of
    its terminal's chain from the task's first record to its last (records of other tasks in
    between are checked too, so every link is), then each of the task's photos."""
    device_id = task["device_id"]
    with engine.connect() as conn:
        span = conn.execute(
            sa.select(sa.func.min(records.c.seq), sa.func.max(records.c.seq)).where(
                records.c.device_id == device_id, records.c.task_id == task["id"]
            )
        ).first()
        rows: list[Any] = []
        prev = None
        first: int | None = span[0] if span is not None else None
        last: int | None = span[1] if span is not None else None
        if first is not None and last is not None:
            rows = list(
                conn.execute(
                    sa.select(records)
                    .where(
                        records.c.device_id == device_id,
                        records.c.seq >= first,
                        records.c.seq <= last,
                    )
                    .order_by(records.c.seq)
                )
            )
            prev = conn.execute(
                sa.select(records.c.hash).where(
                    records.c.device_id == device_id, records.c.seq == first - 1
                )
            ).first()
        cert_rows = {
            r.serial: r.pem
            for r in conn.execute(
                sa.select(certs).where(certs.c.serial.in_({r.cert_serial for r in rows}))
            )
        }
        refusal = conn.execute(sa.select(refusals).where(refusals.c.device_id == device_id)).first()
    verification: dict[str, Any] = {
        "ok": True,
        "records": 0,
        "photos": 0,
        "problem": None,
        "bad_seq": None,
    }
    shown = []
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    prev_hash: str | None = None
    if prev is not None:
        prev_hash = str(prev.hash)
    elif first == 1:
        prev_hash = ev.GENESIS
    prev_seq: int | None = rows[0].seq - 1 if rows and prev_hash is not None else None

    def fail(seq: int, reason: str) -> None:
        if verification["ok"]:
            verification.update(ok=False, problem=f"record seq {seq}: {reason}", bad_seq=seq)

    for row in rows:
        record: ev.EvidenceRecord | None = None
        try:
            record = ev.decode(row.body)
        except Exception:  # noqa: BLE001 - an unreadable record is still shown; check_run fails it
            record = None
        if row.task_id == task["id"]:
            shown.append(_record_json(row, record))
        if not verification["ok"]:
            continue
        key = keys.get(row.cert_serial)
        if key is None:
            problem = _cert_problem(cert_rows.get(row.cert_serial), device_id, ca)
            if problem is not None:
                fail(row.seq, problem)
                continue
            cert = x509.load_pem_x509_certificate(cert_rows[row.cert_serial].encode())
            public = cert.public_key()
            if not isinstance(public, ec.EllipticCurvePublicKey):
                fail(row.seq, "its signer's certificate holds no elliptic-curve key")
                continue
            key = keys[row.cert_serial] = public
        checked = ev.check_run(
            [(row.body, row.sig)], key, device_id=device_id, prev_hash=prev_hash, prev_seq=prev_seq
        )
        if checked.problem is not None:
            fail(row.seq, checked.problem.reason)
            continue
        if ev.record_hash(row.body) != row.hash:
            fail(row.seq, "its stored hash is not the hash of its bytes")
            continue
        prev_hash, prev_seq = row.hash, row.seq
        verification["records"] += 1
        if row.task_id == task["id"] and record is not None and record.photo_sha256:
            problem = _photo_problem(photo_dir, record.photo_sha256, record.photo_size)
            if problem is not None:
                fail(row.seq, problem)
                continue
            verification["photos"] += 1
    return {
        "task": task,
        "records": shown,
        "verification": verification,
        "refusal": None
        if refusal is None
        else {
            "seq": refusal.seq,
            "task_id": refusal.task_id,
            "reason": refusal.reason,
            "ts": refusal.ts,
        },
    }


def _cert_problem(pem: str | None, device_id: str, ca: Any) -> str | None:
    if pem is None:
        return "the hub holds no certificate for its signer"
    cert = x509.load_pem_x509_certificate(pem.encode())
    if ca is not None:
        try:
            ca.verify_issued(cert)
        except Exception:  # noqa: BLE001 - any failure to verify is the finding the report shows
            return "its signer's certificate was not issued by this fleet CA"
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if not names or names[0].value != device_id:
        return f"its signer's certificate is not that of {device_id}"
    return None
