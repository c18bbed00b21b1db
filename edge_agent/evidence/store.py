"""The terminal's evidence store: photos by SHA-256 and signed, chained records in SQLite.

A photo is written to ``photos/<sha256>`` (temporary file, fsync, rename, fsync of the folder)
before its record exists; the record is then added in one SQLite transaction (WAL,
``synchronous=FULL``) that reads the chain's head and appends to it. A kill -9 or a power cut
leaves the whole record or none: at worst an orphan photo, which :meth:`EvidenceStore.sweep`
removes. Records and photos stay until the hub acknowledges them.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from edge_agent.errors import AgentError
from govedge.contract import evidence as ev

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    body BLOB NOT NULL,
    sig BLOB NOT NULL,
    task_id TEXT NOT NULL,
    photo_sha256 TEXT NOT NULL,
    acked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class EvidenceError(AgentError):
    """The evidence store cannot do what was asked (with the facts to act on)."""


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """An evidence record as stored on the device, with its signature."""

    seq: int
    hash: str
    body: bytes
    sig: bytes
    task_id: str
    photo_sha256: str


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EvidenceStore:
    """Records and photos of one terminal, signed with its device key."""

    def __init__(self, folder: Path, device_id: str, key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise EvidenceError("the device key must be an ECDSA P-256 key to sign evidence")
        self.folder = folder
        self.photos = folder / "photos"
        self.photos.mkdir(parents=True, exist_ok=True)
        self.device_id = device_id
        self.key = key
        self._lock = threading.Lock()
        self.db = sqlite3.connect(folder / "evidence.db", check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        """Close the database, once a write in progress has finished."""
        with self._lock:
            self.db.close()

    # -- photos -----------------------------------------------------------------------------

    def photo_path(self, sha256: str) -> Path:
        """Where the photo of ``sha256`` is kept. EvidenceError for anything but a lower-case hex
        SHA-256, so that a hash from outside never names another path."""
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise EvidenceError(f"{sha256!r} is not a SHA-256 in lower-case hex")
        return self.photos / sha256

    def put_photo(self, data: bytes) -> str:
        """Store ``data`` durably under its SHA-256; return the hash."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.photo_path(sha)
        if path.exists():
            return sha
        tmp = path.with_name(f".{sha}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(self.photos)
        return sha

    # -- records ----------------------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the chain's last record, or (0, GENESIS) for an empty chain.

        Takes no lock: :meth:`append` calls it under the store's lock."""
        row = self.db.execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        return (int(row[0]), str(row[1])) if row else (0, ev.GENESIS)

    def append(
        self,
        *,
        task_id: str,
        item_id: str,
        answer: str,
        note: str,
        inspector_id: str,
        photo: bytes | None,
        position: ev.Position | None,
        since_contact_s: float | None,
        device_time: float | None = None,
    ) -> StoredRecord:
        """Sign and store one record, chained to the last; the photo first (by hash)."""
        for name, value in (("answer", answer), ("note", note)):
            if len(value) > ev.MAX_TEXT:
                raise EvidenceError(f"{name} is longer than {ev.MAX_TEXT} characters")
        if not task_id or not item_id or not inspector_id:
            raise EvidenceError("task_id, item_id and inspector_id are required")
        sha = self.put_photo(photo) if photo is not None else ""
        with self._lock:
            seq, prev = self.head()
            record = ev.EvidenceRecord(
                device_id=self.device_id,
                seq=seq + 1,
                prev_hash=prev,
                task_id=task_id,
                item_id=item_id,
                answer=answer,
                note=note,
                photo_sha256=sha,
                photo_size=len(photo) if photo is not None else 0,
                fix=ev.FIX_OK if position is not None else ev.NO_FIX,
                position=position,
                device_time=time.time() if device_time is None else device_time,
                since_contact_s=since_contact_s,
                inspector_id=inspector_id,
            )
            body = ev.encode(record)
            sig = ev.sign(self.key, body)
            digest = ev.record_hash(body)
            with self.db:
                self.db.execute(
                    "INSERT INTO records (seq, hash, body, sig, task_id, photo_sha256)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (record.seq, digest, body, sig, task_id, sha),
                )
        return StoredRecord(record.seq, digest, body, sig, task_id, sha)

    def pending(self, limit: int = 10_000) -> list[StoredRecord]:
        """Records the hub has not acknowledged, oldest first."""
        with self._lock:
            rows = self.db.execute(
                "SELECT seq, hash, body, sig, task_id, photo_sha256 FROM records"
                " WHERE acked = 0 ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [StoredRecord(int(r[0]), r[1], bytes(r[2]), bytes(r[3]), r[4], r[5]) for r in rows]

    def all_records(self) -> list[StoredRecord]:
        """Every record still held, acknowledged or not, oldest first."""
        with self._lock:
            rows = self.db.execute(
                "SELECT seq, hash, body, sig, task_id, photo_sha256 FROM records ORDER BY seq"
            ).fetchall()
        return [StoredRecord(int(r[0]), r[1], bytes(r[2]), bytes(r[3]), r[4], r[5]) for r in rows]

    def for_task(self, task_id: str) -> list[StoredRecord]:
        """Every record of one task still held (acknowledged or not), oldest first."""
        with self._lock:
            rows = self.db.execute(
                "SELECT seq, hash, body, sig, task_id, photo_sha256 FROM records"
                " WHERE task_id = ? ORDER BY seq",
                (task_id,),
            ).fetchall()
        return [StoredRecord(int(r[0]), r[1], bytes(r[2]), bytes(r[3]), r[4], r[5]) for r in rows]

    def acknowledge(self, through_seq: int) -> int:
        """The hub holds every record up to ``through_seq``: mark them, drop their photos."""
        count, shas = self.mark_acknowledged(through_seq)
        self.drop_photos(shas)
        return count

    def mark_acknowledged(self, through_seq: int) -> tuple[int, list[str]]:
        """Mark the records up to ``through_seq`` acknowledged (one transaction): how many, and
        the photos they name, for :meth:`drop_photos`. The sync drops those beside its next
        requests rather than before them."""
        with self._lock:
            rows = self.db.execute(
                "SELECT photo_sha256 FROM records WHERE acked = 0 AND seq <= ?", (through_seq,)
            ).fetchall()
            with self.db:
                self.db.execute(
                    "UPDATE records SET acked = 1 WHERE acked = 0 AND seq <= ?", (through_seq,)
                )
        return len(rows), [r[0] for r in rows if r[0]]

    def drop_photos(self, shas: list[str]) -> int:
        """Remove those of ``shas`` that no pending record names (as of now): photos of
        acknowledged records. How many were removed."""
        if not shas:
            return 0
        with self._lock:
            still = {
                r[0]
                for r in self.db.execute(
                    "SELECT photo_sha256 FROM records WHERE acked = 0 AND photo_sha256 != ''"
                )
            }
        removed = 0
        for sha in dict.fromkeys(shas):
            if sha not in still:
                self.photo_path(sha).unlink(missing_ok=True)
                removed += 1
        return removed

    def counts(self) -> dict[str, int]:
        """Records and distinct photos waiting for the hub, and records it acknowledged."""
        with self._lock:
            pending, photos = self.db.execute(
                "SELECT COUNT(*), COUNT(DISTINCT NULLIF(photo_sha256, ''))"
                " FROM records WHERE acked = 0"
            ).fetchone()
            acked = self.db.execute("SELECT COUNT(*) FROM records WHERE acked = 1").fetchone()[0]
        return {"pending_records": int(pending), "pending_photos": int(photos), "acked": int(acked)}

    def get_meta(self, key: str) -> str | None:
        """A value kept beside the records (fetched tasks, queued task states, the last
        refusal), or None if never set."""
        with self._lock:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Keep ``value`` under ``key``, replacing any earlier one (committed at once)."""
        with self._lock, self.db:
            self.db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def sweep(self) -> int:
        """Remove photos no pending record names (left by a crash between photo and record)."""
        with self._lock:
            named = {
                r[0]
                for r in self.db.execute(
                    "SELECT photo_sha256 FROM records WHERE acked = 0 AND photo_sha256 != ''"
                )
            }
        removed = 0
        for path in self.photos.iterdir():
            if path.name not in named:
                path.unlink(missing_ok=True)
                removed += 1
        return removed
