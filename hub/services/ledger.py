"""The proof ledger: every proof issued or revoked, hash-chained, append-only, with signed
checkpoints.

An entry's hash covers its sequence number, time, kind, proof id, document hash and the previous
entry's hash, so an edited row no longer matches its hash, a deleted row leaves a gap in the
sequence, and two swapped rows no longer match theirs (the sequence is inside the hash). A row
edited together with its hash breaks the link to the next entry. Deleting the last rows leaves
no gap: signed checkpoints (sequence, head hash, time), written every N entries and on demand,
name entries that must still be there with the hash they had.

Appends lock the one head row (an UPDATE, so SQLite takes its write lock at once and PostgreSQL
a row lock), which keeps appends serial across hub workers. A worker remembers the head it wrote
and swaps it for the new one in that same UPDATE (compare-and-swap on sequence and hash), so an
append does not read the head back unless another worker moved it since.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from sqlalchemy.engine import Connection, Engine

from hub.services.keys import ProofKeyring, TrustList
from hub.services.tables import (
    checkpoints,
    driver_sql,
    insert_tuples,
    ledger,
    ledger_head,
    proofs,
)

GENESIS = "0" * 64
_SWAP_HEAD = (
    f"UPDATE {ledger_head.name} "  # noqa: S608 - a table name from code
    "SET seq = ?, head_hash = ?, updated = ? "
    "WHERE id = 1 AND seq = ? AND head_hash = ?"
)
CHECKPOINT_CONTEXT = "govedge-ledger-checkpoint/1"
PAGE = 5000


def entry_hash(seq: int, ts_ms: int, kind: str, proof_id: str, doc_hash: str, prev: str) -> str:
    """An entry's hash, over its fields and the previous entry's hash."""
    return hashlib.sha256(
        msgspec.json.encode([seq, ts_ms, kind, proof_id, doc_hash, prev])
    ).hexdigest()


# An entry's columns, in the order of the tuples ``_chain`` makes.
ENTRY_COLUMNS = ("seq", "ts_ms", "kind", "proof_id", "doc_hash", "prev_hash", "entry_hash")
Entry = tuple[int, int, str, str, str, str, str]


def _chain(head: tuple[int, str], items: Sequence[tuple[str, str, str]], ts_ms: int) -> list[Entry]:
    """The ledger rows of ``items`` chained after ``head`` (seq, entry hash), as tuples in
    ``ENTRY_COLUMNS`` order."""
    seq, prev = head
    rows: list[Entry] = []
    for kind, proof_id, doc_hash in items:
        seq += 1
        digest = entry_hash(seq, ts_ms, kind, proof_id, doc_hash, prev)
        rows.append((seq, ts_ms, kind, proof_id, doc_hash, prev, digest))
        prev = digest
    return rows


def checkpoint_bytes(seq: int, head_hash: str, ts_ms: int) -> bytes:
    """What a checkpoint's signature covers."""
    return msgspec.json.encode([CHECKPOINT_CONTEXT, seq, head_hash, ts_ms])


@dataclass(slots=True)
class Problem:
    """Where the ledger does not hold, and why."""

    seq: int
    message: str


@dataclass(slots=True)
class LedgerReport:
    """The verdict of a walk: ``ok``, or the first entry that does not hold and why."""

    entries: int = 0
    checkpoints: int = 0
    head_hash: str = GENESIS
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the walk found nothing wrong."""
        return not self.problems

    @property
    def first(self) -> Problem | None:
        """The problem at the lowest sequence number, the one to look at first; None when ok."""
        return min(self.problems, key=lambda p: p.seq) if self.problems else None

    def as_json(self) -> dict[str, Any]:
        """The verdict for the API: totals, head hash, and the first bad entry with its problem."""
        first = self.first
        return {
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "head_hash": self.head_hash,
            "first_bad_entry": first.seq if first else None,
            "problem": first.message if first else "",
            "problems": len(self.problems),
        }

    def text(self) -> str:
        """The verdict in one line for ``govedge ledger verify``."""
        first = self.first
        if first is None:
            return (
                f"ledger holds: {self.entries} entries, {self.checkpoints} signed checkpoints, "
                f"head {self.head_hash[:16]}"
            )
        more = f" ({len(self.problems) - 1} more problems)" if len(self.problems) > 1 else ""
        return f"ledger broken at entry {first.seq}: {first.message}{more}"


class Ledger:
    """Appends (inside the caller's transaction), checkpoints and the verifying walk."""

    def __init__(self, engine: Engine, keyring: ProofKeyring, checkpoint_every: int) -> None:
        self.engine = engine
        self.keyring = keyring
        self.checkpoint_every = checkpoint_every
        # (seq, entry hash) of the head as this process last wrote it; checked, never trusted.
        self._head: tuple[int, str] | None = None

    def ensure_head(self) -> None:
        """Create the head row (sequence 0, genesis hash) if the ledger has none; safe to call at
        every start, appends lock this row."""
        with self.engine.begin() as conn:
            if conn.execute(sa.select(ledger_head.c.id)).first() is None:
                conn.execute(
                    ledger_head.insert().values(id=1, seq=0, head_hash=GENESIS, updated=time.time())
                )

    def append(
        self, conn: Connection, items: Sequence[tuple[str, str, str]], now: float | None = None
    ) -> list[int]:
        """Append (kind, proof_id, doc_hash) entries; returns their sequence numbers.

        The head this process wrote last is kept in memory, and the new entries are chained
        onto it with one compare-and-swap of the head row (UPDATE ... WHERE seq and hash are
        still those), which also locks it. Only when another worker moved the head, or this
        process's last transaction rolled back, does the swap find no row; then the head is
        locked and read again. Either way the chain grows under the head row's lock.
        """
        if not items:
            return []
        now = time.time() if now is None else now
        ts_ms = int(now * 1000)
        rows: list[Entry] = []
        known = self._head
        if known is not None:
            rows = _chain(known, items, ts_ms)
            swapped = conn.exec_driver_sql(
                driver_sql(conn, _SWAP_HEAD), (rows[-1][0], rows[-1][6], now, known[0], known[1])
            )
            if swapped.rowcount != 1:
                rows = []
        if not rows:
            conn.execute(ledger_head.update().where(ledger_head.c.id == 1).values(updated=now))
            head = conn.execute(
                sa.select(ledger_head.c.seq, ledger_head.c.head_hash).where(ledger_head.c.id == 1)
            ).one()
            rows = _chain((int(head.seq), str(head.head_hash)), items, ts_ms)
            conn.execute(
                ledger_head.update()
                .where(ledger_head.c.id == 1)
                .values(seq=rows[-1][0], head_hash=rows[-1][6])
            )
        insert_tuples(conn, ledger, ENTRY_COLUMNS, rows)
        self._head = (rows[-1][0], rows[-1][6])
        every = self.checkpoint_every
        for seq, *_, digest in rows:
            if seq % every == 0:
                self._checkpoint(conn, seq, digest, ts_ms)
        return [row[0] for row in rows]

    def _checkpoint(self, conn: Connection, seq: int, head_hash: str, ts_ms: int) -> dict[str, Any]:
        kid, key = self.keyring.current()
        signature = key.sign(checkpoint_bytes(seq, head_hash, ts_ms)).hex()
        existing = conn.execute(sa.select(checkpoints.c.seq).where(checkpoints.c.seq == seq))
        if existing.first() is None:
            conn.execute(
                checkpoints.insert().values(
                    seq=seq, head_hash=head_hash, ts_ms=ts_ms, kid=kid.hex(), signature=signature
                )
            )
        return {
            "seq": seq,
            "head_hash": head_hash,
            "ts_ms": ts_ms,
            "kid": kid.hex(),
            "signature": signature,
        }

    def checkpoint_now(self) -> dict[str, Any] | None:
        """A signed checkpoint of the current head (None while the ledger is empty)."""
        with self.engine.begin() as conn:
            now = time.time()
            conn.execute(ledger_head.update().where(ledger_head.c.id == 1).values(updated=now))
            head = conn.execute(
                sa.select(ledger_head.c.seq, ledger_head.c.head_hash).where(ledger_head.c.id == 1)
            ).one()
            if int(head.seq) == 0:
                return None
            return self._checkpoint(conn, int(head.seq), str(head.head_hash), int(now * 1000))

    def latest_checkpoint(self) -> dict[str, Any] | None:
        """The newest signed checkpoint as stored (seq, head hash, time, key id, signature), or
        None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(checkpoints).order_by(checkpoints.c.seq.desc()).limit(1)
            ).first()
        return dict(row._mapping) if row else None

    # -- the walk ---------------------------------------------------------------------------

    def verify(self, trust: TrustList) -> LedgerReport:
        """Walk the chain, the checkpoints, the head and the proofs' rows (``verify_ledger``); a
        broken ledger is reported, not raised. Reads every entry, so it is slow on a long ledger."""
        return verify_ledger(self.engine, trust)


_WALKED = (
    ledger.c.seq,
    ledger.c.ts_ms,
    ledger.c.kind,
    ledger.c.proof_id,
    ledger.c.doc_hash,
    ledger.c.prev_hash,
    ledger.c.entry_hash,
)


def verify_ledger(engine: Engine, trust: TrustList) -> LedgerReport:
    """Walk the chain, the checkpoints, the head record and the proofs' rows against it."""
    report = LedgerReport()
    problems = report.problems
    # Only the entries that signed checkpoints name need remembering (a long ledger stays small).
    with engine.connect() as conn:
        named = {int(seq) for seq in conn.execute(sa.select(checkpoints.c.seq)).scalars()}
    hashes: dict[int, str] = {}
    issued: dict[str, tuple[int, str]] = {}
    revoked: dict[str, int] = {}
    expected, prev = 1, GENESIS
    with engine.connect() as conn:
        last = 0
        while True:
            page = conn.execute(
                sa.select(*_WALKED).where(ledger.c.seq > last).order_by(ledger.c.seq).limit(PAGE)
            ).all()
            if not page:
                break
            # Plain tuples: a walk of millions of entries spends its time here.
            for seq, ts_ms, kind, proof_id, doc_hash, prev_hash, stored_hash in page:
                seq = int(seq)
                if seq != expected:
                    gap = f"{expected}" if seq == expected + 1 else f"{expected} to {seq - 1}"
                    problems.append(
                        Problem(
                            expected,
                            f"entry {gap} is missing (deleted): the chain jumps "
                            f"from entry {expected - 1} to {seq}",
                        )
                    )
                if prev_hash != prev:
                    problems.append(
                        Problem(
                            seq,
                            f"entry {seq} does not link to the entry before it "
                            f"(its previous-hash differs): rows moved, edited or deleted",
                        )
                    )
                if entry_hash(seq, int(ts_ms), kind, proof_id, doc_hash, prev_hash) != stored_hash:
                    problems.append(
                        Problem(
                            seq,
                            f"entry {seq} does not match its hash: its content was "
                            f"edited or it was moved from another place",
                        )
                    )
                if seq in named:
                    hashes[seq] = stored_hash
                if kind == "issued":
                    issued[proof_id] = (seq, doc_hash)
                elif kind == "revoked":
                    revoked[proof_id] = seq
                prev = stored_hash
                expected = seq + 1
            report.entries += len(page)
            last = int(page[-1][0])
        report.head_hash = prev
        last_seq = expected - 1

        for cp in conn.execute(sa.select(checkpoints).order_by(checkpoints.c.seq)):
            report.checkpoints += 1
            seq = int(cp.seq)
            key = trust.get(bytes.fromhex(cp.kid))
            try:
                if key is None:
                    raise InvalidSignature
                key.public.verify(
                    bytes.fromhex(cp.signature), checkpoint_bytes(seq, cp.head_hash, int(cp.ts_ms))
                )
            except (InvalidSignature, ValueError):
                problems.append(
                    Problem(seq, f"the checkpoint at entry {seq} is not signed by a trusted key")
                )
                continue
            if seq > last_seq:
                problems.append(
                    Problem(
                        last_seq + 1,
                        f"entries {last_seq + 1} to {seq} are missing "
                        f"(deleted): the signed checkpoint at {seq} names them",
                    )
                )
            elif hashes.get(seq) != cp.head_hash:
                problems.append(
                    Problem(seq, f"entry {seq} is not the one the signed checkpoint names")
                )

        head = conn.execute(sa.select(ledger_head).where(ledger_head.c.id == 1)).first()
        if head is not None and (int(head.seq), head.head_hash) != (last_seq, prev):
            problems.append(
                Problem(
                    min(int(head.seq), last_seq) + 1 if int(head.seq) != last_seq else last_seq,
                    f"the head record says entry {head.seq}, the chain ends at {last_seq}",
                )
            )

        for row in conn.execute(sa.select(proofs.c.proof_id, proofs.c.doc_hash, proofs.c.revoked)):
            entry = issued.get(row.proof_id)
            if entry is None:
                problems.append(
                    Problem(last_seq + 1, f"proof {row.proof_id} has no issue entry in the ledger")
                )
            elif entry[1] != row.doc_hash:
                problems.append(
                    Problem(
                        entry[0],
                        f"proof {row.proof_id}: its stored document hash differs "
                        f"from ledger entry {entry[0]}",
                    )
                )
            elif bool(row.revoked) != (row.proof_id in revoked):
                where = revoked.get(row.proof_id, entry[0])
                problems.append(
                    Problem(
                        where,
                        f"proof {row.proof_id}: revoked={bool(row.revoked)} in its row "
                        f"but the ledger says otherwise (entry {where})",
                    )
                )
    return report
