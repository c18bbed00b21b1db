"""The agent's one SQLite file, shared by the outbox (messages) and the device state (command
ledger, running config).

One file, because a command's acknowledgement enters the outbox in the same transaction that
marks the command done: SQLite is atomic across tables of one file, not across attached files in
WAL mode. WAL: a commit survives kill -9 of the process (``synchronous=normal``) or also a power
loss (``full``). One connection, guarded by a lock: the event loop writes through worker threads,
the MQTT thread reads and deletes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from edge_agent.errors import StoreError

T = TypeVar("T")


class AgentDatabase:
    """The open SQLite file: its connection, the lock around it, and transactions."""

    def __init__(self, path: str | Path, *, synchronous: str = "normal") -> None:
        self.path = Path(path)
        self.lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(
                str(self.path), check_same_thread=False, isolation_level=None, timeout=30
            )
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from None

    def schema(self, script: str) -> None:
        """Create what a user of the file needs (``CREATE ... IF NOT EXISTS``)."""
        with self.lock:
            try:
                self.conn.executescript(script)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot prepare {self.path}: {exc}") from None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` under the lock; rolled back on any error.

        sqlite3 errors are left to the caller, which knows what it was doing (OutboxError...)."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                try:
                    self.conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise
            self.conn.execute("COMMIT")

    def read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``query`` under the lock (no transaction)."""
        with self.lock:
            return query(self.conn)

    def close(self) -> None:
        """Close the connection, once a transaction or read running in another thread
        has finished (it waits for the lock)."""
        with self.lock:
            self.conn.close()
