"""Inspection evidence records: the signed, hash-chained form shared by the terminal and the hub.

A record is the canonical msgspec JSON of :class:`EvidenceRecord` (fields in declaration order,
so the same record always encodes to the same bytes). Its hash is the SHA-256 of those bytes;
each record names the hash of the one before it on the same device (``prev_hash``; the first
names :data:`GENESIS`), and the device signs the bytes with its provisioning key (ECDSA P-256,
SHA-256, DER). Anyone holding the device certificate checks a run of records with
:func:`check_run` without trusting whoever carried them: an altered record breaks its own
signature, a removed or reordered one breaks the next record's link.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

GENESIS = "0" * 64
"""The ``prev_hash`` of a device's first record."""

FIX_OK = "fix"
NO_FIX = "no_fix"
MAX_TEXT = 2000
"""Longest answer or note, in characters (a contract limit)."""


class Position(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where the terminal was: from a fix no older than the agent's limit, never a stale one."""

    lat: float
    lon: float
    quality: int  # NMEA GGA fix quality: 1 GPS, 2 DGPS, 4 RTK fixed...
    satellites: int
    hdop: float | None
    fix_age_s: float


class EvidenceRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One finding: a checklist answer, its photo's hash, place, time and who."""

    v: int = 1
    device_id: str
    seq: int
    prev_hash: str
    task_id: str
    item_id: str
    answer: str
    note: str = ""
    photo_sha256: str = ""
    photo_size: int = 0
    fix: str = NO_FIX  # FIX_OK with a position, NO_FIX without: never a borrowed position
    position: Position | None = None
    device_time: float  # Unix seconds, the device's clock
    since_contact_s: float | None = None  # monotonic seconds since the hub last answered
    inspector_id: str


class SignedRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A record's exact bytes and the device's signature, as carried (base64 both)."""

    body: str
    sig: str


_decoder = msgspec.json.Decoder(EvidenceRecord)


def encode(record: EvidenceRecord) -> bytes:
    """The record's canonical JSON bytes (what is hashed and signed)."""
    return msgspec.json.encode(record)


def decode(body: bytes) -> EvidenceRecord:
    """The record in ``body``; msgspec.ValidationError/DecodeError when it is not one."""
    return _decoder.decode(body)


def record_hash(body: bytes) -> str:
    """The record's hash: SHA-256 of its body, hex."""
    return hashlib.sha256(body).hexdigest()


def sign(key: ec.EllipticCurvePrivateKey, body: bytes) -> bytes:
    """The device's ECDSA (SHA-256) signature of ``body``."""
    return key.sign(body, ec.ECDSA(hashes.SHA256()))


def wrap(body: bytes, signature: bytes) -> SignedRecord:
    """``body`` and its signature in base64, as sent to the hub."""
    return SignedRecord(base64.b64encode(body).decode(), base64.b64encode(signature).decode())


def unwrap(signed: SignedRecord) -> tuple[bytes, bytes]:
    """(body, signature) bytes; ValueError when either is not base64."""
    return (
        base64.b64decode(signed.body, validate=True),
        base64.b64decode(signed.sig, validate=True),
    )


def signature_holds(public_key: ec.EllipticCurvePublicKey, body: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``public_key``'s signature of ``body``."""
    try:
        public_key.verify(signature, body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Problem:
    """The first record that does not hold, and why."""

    seq: int | None
    index: int
    reason: str

    def text(self) -> str:
        """The problem as one line for a person: which record (by seq, else by position) and
        why."""
        where = f"record seq {self.seq}" if self.seq is not None else f"record #{self.index}"
        return f"{where}: {self.reason}"


@dataclass(slots=True)
class Checked:
    """Records that hold, in order, up to the first problem (if any)."""

    records: list[tuple[EvidenceRecord, bytes, bytes]]  # record, body, signature
    problem: Problem | None = None

    @property
    def last_hash(self) -> str | None:
        """The hash of the last record that holds (where the chain continues), or None when
        none holds."""
        return record_hash(self.records[-1][1]) if self.records else None


def check_run(
    items: Iterable[tuple[bytes, bytes]],
    public_key: ec.EllipticCurvePublicKey,
    *,
    device_id: str,
    prev_hash: str | None,
    prev_seq: int | None,
    photo_ok: Sequence[object] | None = None,
) -> Checked:
    """Check (body, signature) pairs in order: decodes, names ``device_id``, signed by
    ``public_key``, seq one past the last, ``prev_hash`` links. ``prev_hash``/``prev_seq``
    None means the run may start anywhere (its first link is then taken as given).
    Stops at the first record that does not hold; ``Checked.records`` are those before it."""
    out = Checked([])
    expected_hash, expected_seq = prev_hash, prev_seq
    for index, (body, signature) in enumerate(items):
        try:
            record = decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            out.problem = Problem(None, index, f"not an evidence record ({exc})")
            return out
        problem = _check_one(record, body, signature, public_key, device_id)
        if problem is None and expected_seq is not None and record.seq != expected_seq + 1:
            problem = f"seq {record.seq} follows seq {expected_seq}: the chain has a gap"
        if problem is None and expected_hash is not None and record.prev_hash != expected_hash:
            problem = "prev_hash does not match the record before it: the chain is broken"
        if problem is not None:
            out.problem = Problem(record.seq, index, problem)
            return out
        out.records.append((record, body, signature))
        expected_hash, expected_seq = record_hash(body), record.seq
    return out


def _check_one(
    record: EvidenceRecord,
    body: bytes,
    signature: bytes,
    public_key: ec.EllipticCurvePublicKey,
    device_id: str,
) -> str | None:
    if record.device_id != device_id:
        return f"names device {record.device_id!r}, not {device_id!r}"
    if not signature_holds(public_key, body, signature):
        return "the signature does not hold (the record was altered or signed by another key)"
    if record.fix == FIX_OK and record.position is None:
        return "claims a fix but holds no position"
    if record.fix not in (FIX_OK, NO_FIX):
        return f"unknown fix state {record.fix!r}"
    if record.photo_sha256 and len(record.photo_sha256) != 64:
        return "photo_sha256 is not a SHA-256 in hex"
    return None
