"""The durable outbox: every message with a sequence number is committed here before it counts as
produced, and removed only when the broker acknowledges it.

It holds messages and nothing else. The per-device sequence number advances in the same
transaction as the insert, so a restart continues it without gaps or reuse. The queue is bounded
by count, bytes and age; the oldest rows go first and every drop is counted (the count persists
too). The file is edge_agent.database's, shared with the device state (edge_agent.device_state),
which queues a command's acknowledgement through :meth:`Outbox.append` with its own write in the
same transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from edge_agent.database import AgentDatabase
from edge_agent.errors import OutboxError, StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
"""``meta`` holds the outbox's counters: ``seq`` (the last committed) and ``dropped``."""

Also = Callable[[sqlite3.Connection], None]
"""A write of another store that must commit with the messages, or not at all."""


@dataclass(frozen=True, slots=True)
class Row:
    """One queued message."""

    id: int
    topic: str
    payload: bytes
    retain: bool


@dataclass(frozen=True, slots=True)
class Pending:
    """A message to append: its topic and a function that builds the payload from its seq."""

    topic: str
    build: Callable[[int], bytes]
    retain: bool = False


class Outbox:
    """The on-disk queue of outgoing messages and their sequence counter."""

    def __init__(
        self,
        db: AgentDatabase | str | Path,
        *,
        max_messages: int = 1_000_000,
        max_bytes: int = 256 * 1024 * 1024,
        max_age_s: float = 7 * 24 * 3600.0,
        synchronous: str = "normal",
    ) -> None:
        """Open the outbox in ``db`` (an open AgentDatabase, or a path to open one at)."""
        self._owns_db = not isinstance(db, AgentDatabase)
        try:
            self.db = (
                db if isinstance(db, AgentDatabase) else AgentDatabase(db, synchronous=synchronous)
            )
            self.db.schema(_SCHEMA)
        except StoreError as exc:
            raise OutboxError(f"cannot open the outbox: {exc}") from None
        self.path = self.db.path
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._lock = self.db.lock
        self._db = self.db.conn
        try:
            self._seq = int(self._meta("seq", "0"))
            self._dropped = int(self._meta("dropped", "0"))
            count, size = self._db.execute(
                "SELECT count(*), coalesce(sum(length(payload)), 0) FROM outbox"
            ).fetchone()
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open the outbox {self.path}: {exc}") from None
        self._count = int(count)
        self._bytes = int(size)
        self.produced = 0
        self.acknowledged = 0

    # -- counters ---------------------------------------------------------------------------

    @property
    def seq(self) -> int:
        """The last sequence number committed."""
        return self._seq

    @property
    def queued(self) -> int:
        """Messages waiting for the broker's acknowledgement."""
        return self._count

    @property
    def queued_bytes(self) -> int:
        """Payload bytes waiting."""
        return self._bytes

    @property
    def dropped(self) -> int:
        """Messages dropped (oldest first) because the outbox was full or they were too old."""
        return self._dropped

    def _meta(self, key: str, default: str) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else default

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def get_meta(self, key: str, default: str = "") -> str:
        """One of the outbox's counters as stored (``seq``, ``dropped``)."""
        with self._lock:
            return self._meta(key, default)

    # -- producing --------------------------------------------------------------------------

    def next_seq(self) -> int:
        """Take one sequence number for a message that does not go through the queue (status)."""
        with self._lock:
            seq = self._seq + 1
            self._set_meta("seq", str(seq))
            self._seq = seq
            return seq

    def append(self, items: Sequence[Pending], *, also: Also | None = None) -> list[int]:
        """Commit ``items`` in one transaction, each with the next seq; return the seqs.

        Only after this returns do the messages count as produced. ``also`` runs inside the
        same transaction (another store's write that must not happen without the messages).
        """
        if not items:
            return []
        now = time.time()
        with self._lock:
            seq = self._seq
            rows: list[tuple[str, bytes, int, float]] = []
            seqs: list[int] = []
            added = 0
            for item in items:
                seq += 1
                payload = item.build(seq)
                rows.append((item.topic, payload, int(item.retain), now))
                seqs.append(seq)
                added += len(payload)
            try:
                with self.db.transaction() as db:
                    db.executemany(
                        "INSERT INTO outbox(topic, payload, retain, created) VALUES (?, ?, ?, ?)",
                        rows,
                    )
                    self._set_meta("seq", str(seq))
                    if also is not None:
                        also(db)
            except sqlite3.Error as exc:
                raise OutboxError(f"cannot write to the outbox {self.path}: {exc}") from None
            self._seq = seq
            self._count += len(rows)
            self._bytes += added
            self.produced += len(rows)
            if self._count > self.max_messages or self._bytes > self.max_bytes:
                self._drop_oldest()
        return seqs

    def _drop_oldest(self) -> None:
        """Drop the oldest rows until the outbox is within its limits (lock held)."""
        over_count = max(0, self._count - self.max_messages)
        over_bytes = self._bytes - self.max_bytes
        victims: list[tuple[int, int]] = []
        if over_bytes > 0:
            freed = 0
            for rid, size in self._db.execute("SELECT id, length(payload) FROM outbox ORDER BY id"):
                victims.append((rid, size))
                freed += size
                if len(victims) >= over_count and freed >= over_bytes:
                    break
        elif over_count:
            victims = list(
                self._db.execute(
                    "SELECT id, length(payload) FROM outbox ORDER BY id LIMIT ?", (over_count,)
                )
            )
        self._delete(victims, dropped=True)

    def _delete_ids(self, ids: Sequence[int]) -> tuple[int, int]:
        """Delete rows by id inside an open transaction; return (rows, bytes) actually removed."""
        removed = freed = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            # Only '?' placeholders are formatted in; the ids are bound.
            sql = f"DELETE FROM outbox WHERE id IN ({marks}) RETURNING length(payload)"  # noqa: S608
            for (size,) in self._db.execute(sql, chunk).fetchall():
                removed += 1
                freed += int(size)
        return removed, freed

    def _delete(self, victims: Iterable[tuple[int, int]], *, dropped: bool) -> int:
        ids = [rid for rid, _ in victims]
        if not ids:
            return 0
        try:
            with self.db.transaction():
                # Only rows still present count (a dropped row may be acknowledged later).
                removed, freed = self._delete_ids(ids)
                if dropped:
                    self._set_meta("dropped", str(self._dropped + removed))
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot delete from the outbox {self.path}: {exc}") from None  # noqa: S608 - an error message, not SQL
        if dropped:
            self._dropped += removed
        self._count -= removed
        self._bytes -= freed
        return removed

    def expire(self, now: float | None = None) -> int:
        """Drop rows older than max_age_s; return how many went."""
        limit = (now if now is not None else time.time()) - self.max_age_s
        with self._lock:
            victims = list(
                self._db.execute(
                    "SELECT id, length(payload) FROM outbox WHERE created < ? ORDER BY id",
                    (limit,),
                )
            )
            return self._delete(victims, dropped=True)

    # -- draining ---------------------------------------------------------------------------

    def fetch(self, after_id: int, limit: int) -> list[Row]:
        """The next ``limit`` rows with an id above ``after_id``, oldest first."""
        with self._lock:
            cur = self._db.execute(
                "SELECT id, topic, payload, retain FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            )
            return [Row(r[0], r[1], bytes(r[2]), bool(r[3])) for r in cur]

    def ack(self, ids: Sequence[int]) -> int:
        """Remove acknowledged rows in one transaction; return how many were still queued."""
        if not ids:
            return 0
        with self._lock:
            try:
                with self.db.transaction():
                    removed, freed = self._delete_ids(ids)
            except sqlite3.Error as exc:
                raise OutboxError(f"cannot delete from the outbox {self.path}: {exc}") from None  # noqa: S608 - an error message, not SQL
            self._count -= removed
            self._bytes -= freed
            self.acknowledged += removed
            return removed

    def close(self) -> None:
        """Close the file if this outbox opened it (an AgentDatabase given is its owner's)."""
        if self._owns_db:
            self.db.close()
