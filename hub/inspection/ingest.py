"""Taking a terminal's records: every signature, the chain, the photos, the task's terminal.

Records come in order; each must decode, be signed by the key of the certificate the device
presented, follow the last record the hub holds from that device (seq and prev_hash), name a
task assigned to that device, and name only a photo the hub holds whole with the right hash and
size. The hub keeps every record before the first that fails, and answers with that record's
seq and the reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import msgspec
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy.engine import Engine

from govedge.contract import evidence as ev
from govedge.logs import fields, get_logger
from hub.inspection.db import certs, records, refusals, tasks
from hub.inspection.uploads import PhotoStore

log = get_logger(__name__)


@dataclass(slots=True)
class IngestResult:
    """What a batch of evidence did: records taken, the seq acknowledged, a refusal if any."""

    accepted: int
    acked_through: int
    refused: dict[str, Any] | None

    def as_json(self) -> dict[str, Any]:
        """The answer to the terminal: it drops records up to ``acked_through`` from its outbox."""
        return {
            "accepted": self.accepted,
            "acked_through": self.acked_through,
            "refused": self.refused,
        }


def head_of(engine: Engine, device_id: str) -> tuple[int, str]:
    """The seq and hash of a device's newest stored record: (0, GENESIS) before the first."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(records.c.seq, records.c.hash)
            .where(records.c.device_id == device_id)
            .order_by(records.c.seq.desc())
            .limit(1)
        ).first()
    return (int(row.seq), str(row.hash)) if row else (0, ev.GENESIS)


def ingest(
    engine: Engine,
    photos: PhotoStore,
    device_id: str,
    cert: x509.Certificate,
    items: list[tuple[bytes, bytes]],
) -> IngestResult:
    """Store the records that extend the device's chain; refuse at the first that does not."""
    public_key = cert.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise ValueError("the device certificate holds no EC key")
    seq, prev = head_of(engine, device_id)
    # records the hub holds already (a resend after a lost answer): skip those by seq+hash
    fresh: list[tuple[bytes, bytes]] = []
    for body, sig in items:
        try:
            record = ev.decode(body)
        except msgspec.DecodeError:
            fresh.append((body, sig))
            continue
        if record.seq <= seq and not fresh:
            continue
        fresh.append((body, sig))
    checked = ev.check_run(fresh, public_key, device_id=device_id, prev_hash=prev, prev_seq=seq)
    with engine.connect() as conn:
        assigned = {
            r.id for r in conn.execute(sa.select(tasks.c.id).where(tasks.c.device_id == device_id))
        }
    good: list[tuple[ev.EvidenceRecord, bytes, bytes]] = []
    problem = checked.problem.text() if checked.problem else None
    refused_seq = checked.problem.seq if checked.problem else None
    for record, body, sig in checked.records:
        reason = None
        if record.task_id not in assigned:
            reason = f"task {record.task_id!r} is not assigned to terminal {device_id}"
        elif record.photo_sha256:
            state = photos.state(record.photo_sha256)
            if state is None or not state[2]:
                reason = (
                    f"photo {record.photo_sha256} is not held whole: not uploaded, or its bytes "
                    "did not hash to its address"
                )
            elif state[1] != record.photo_size:
                reason = f"photo {record.photo_sha256} is {state[1]} bytes, not {record.photo_size}"
        if reason is not None:
            problem, refused_seq = f"record seq {record.seq}: {reason}", record.seq
            break
        good.append((record, body, sig))
    serial = format(cert.serial_number, "x")
    now = time.time()
    if any(r.photo_sha256 for r, _, _ in good):
        photos.sync_folder()
    if good:
        with engine.begin() as conn:
            if (
                conn.execute(sa.select(certs.c.serial).where(certs.c.serial == serial)).first()
                is None
            ):
                conn.execute(
                    certs.insert().values(
                        serial=serial,
                        device_id=device_id,
                        pem=cert.public_bytes(Encoding.PEM).decode(),
                    )
                )
            conn.execute(
                records.insert(),
                [
                    {
                        "device_id": device_id,
                        "seq": r.seq,
                        "hash": ev.record_hash(body),
                        "body": body,
                        "sig": sig,
                        "task_id": r.task_id,
                        "photo_sha256": r.photo_sha256,
                        "cert_serial": serial,
                        "received": now,
                    }
                    for r, body, sig in good
                ],
            )
    acked = good[-1][0].seq if good else seq
    refused = None
    if problem is not None:
        refused = {"seq": refused_seq, "reason": problem}
        log.warning(
            "evidence_refused", extra=fields(device=device_id, seq=refused_seq, reason=problem)
        )
    _note_refusal(engine, device_id, fresh, refused, acked, now)
    return IngestResult(len(good), acked, refused)


def _note_refusal(
    engine: Engine,
    device_id: str,
    fresh: list[tuple[bytes, bytes]],
    refused: dict[str, Any] | None,
    acked: int,
    now: float,
) -> None:
    """Keep the terminal's outstanding refusal for the console (the task it names, when its
    record decodes), or clear it once the hub holds records past it."""
    if refused is None:
        with engine.connect() as conn:  # a read: no commit on the sync's path when none is kept
            held = conn.execute(
                sa.select(refusals.c.seq).where(refusals.c.device_id == device_id)
            ).first()
        if held is not None and (held.seq is None or held.seq <= acked):
            with engine.begin() as conn:
                conn.execute(refusals.delete().where(refusals.c.device_id == device_id))
        return
    with engine.begin() as conn:
        task_id = ""
        for body, _ in fresh:
            try:
                record = ev.decode(body)
            except msgspec.DecodeError:
                continue
            if record.seq == refused["seq"]:
                task_id = record.task_id[:64]
                break
        conn.execute(refusals.delete().where(refusals.c.device_id == device_id))
        conn.execute(
            refusals.insert().values(
                device_id=device_id,
                seq=refused["seq"],
                task_id=task_id,
                reason=str(refused["reason"])[:2000],
                ts=now,
            )
        )
