"""The device's durable state: the command ledger and the running config.

The ledger remembers which command ids ran, so that a redelivered command (QoS 1, a persistent
session, a retained copy) runs once, even across restarts. The running config is the desired
config last applied, so that a restart runs it before the broker is reachable.

It lives in the agent's database file (edge_agent.database) beside the outbox, in tables of its
own: a command is marked done in the same transaction that queues its acknowledgement.

Layout: ``commands`` (unchanged since the first release) and ``device_state`` (key, value). An
older agent kept the running config in the outbox's ``meta`` table; opening such a file moves it
here, once, in one transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from edge_agent.database import AgentDatabase
from edge_agent.errors import DeviceStateError, StoreError
from edge_agent.outbox import Outbox, Pending

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS commands (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS device_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

CONFIG_VERSION = "config_version"
CONFIG_RUNTIME = "config_runtime"
_MOVED_FROM_META = (CONFIG_VERSION, CONFIG_RUNTIME)


class DeviceState:
    """The command ledger and the running config, kept in the agent's database."""

    def __init__(self, db: AgentDatabase, outbox: Outbox) -> None:
        """``outbox`` must be open on the same ``db``: acknowledgements go through it."""
        if outbox.db is not db:
            raise DeviceStateError("the device state and the outbox must share one database")
        self.db = db
        self.outbox = outbox
        try:
            db.schema(_SCHEMA)
            self._migrate()
        except (StoreError, sqlite3.Error) as exc:
            raise DeviceStateError(f"cannot open the device state in {db.path}: {exc}") from None

    def _migrate(self) -> None:
        """Move the running config out of the outbox's ``meta`` (older layout) into ours."""
        # Only '?' placeholders are formatted in; the keys are bound.
        marks = ",".join("?" * len(_MOVED_FROM_META))
        copy = f"INSERT OR IGNORE INTO device_state(key, value) SELECT key, value FROM meta WHERE key IN ({marks})"  # noqa: S608, E501
        delete = f"DELETE FROM meta WHERE key IN ({marks})"  # noqa: S608
        with self.db.transaction() as conn:
            conn.execute(copy, _MOVED_FROM_META)
            conn.execute(delete, _MOVED_FROM_META)

    def _run(self, what: str, work: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return self.db.read(work)
        except sqlite3.Error as exc:
            raise DeviceStateError(f"cannot {what} in {self.db.path}: {exc}") from None

    # -- the running config ------------------------------------------------------------------

    def get(self, key: str, default: str = "") -> str:
        """A stored value (CONFIG_VERSION, CONFIG_RUNTIME), or ``default``."""

        def query(conn: sqlite3.Connection) -> str:
            row = conn.execute("SELECT value FROM device_state WHERE key = ?", (key,)).fetchone()
            return str(row[0]) if row else default

        return self._run("read the device state", query)

    def set(self, **values: str) -> None:
        """Store ``values`` in one transaction."""
        rows = list(values.items())
        try:
            with self.db.transaction() as conn:
                conn.executemany(
                    "INSERT INTO device_state(key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    rows,
                )
        except sqlite3.Error as exc:
            raise DeviceStateError(
                f"cannot write the device state in {self.db.path}: {exc}"
            ) from None

    @property
    def config_version(self) -> int:
        """The version of the desired config last applied (0: none)."""
        return int(self.get(CONFIG_VERSION, "0") or "0")

    @property
    def running_config(self) -> str:
        """The applied desired config as JSON, or "" when the config file's own runs."""
        return self.get(CONFIG_RUNTIME, "")

    def keep_config(self, version: int, config_json: str) -> None:
        """Remember an applied desired config and its version."""
        self.set(**{CONFIG_RUNTIME: config_json, CONFIG_VERSION: str(version)})

    def drop_config(self) -> None:
        """Forget the applied config (the file's runs again); the version stays known."""
        self.set(**{CONFIG_RUNTIME: ""})

    # -- the command ledger ------------------------------------------------------------------

    def command_state(self, command_id: str) -> str | None:
        """``running`` or ``done`` when this command id was seen before, else None."""

        def query(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT state FROM commands WHERE id = ?", (command_id,)).fetchone()
            return str(row[0]) if row else None

        return self._run("read the command ledger", query)

    def claim_command(self, command_id: str, boot_id: str) -> bool:
        """Record that a command starts; False if it was claimed before (a redelivery)."""

        def claim(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "INSERT OR IGNORE INTO commands(id, state, boot_id, at) "
                "VALUES (?, 'running', ?, ?)",
                (command_id, boot_id, time.time()),
            )
            return cur.rowcount == 1

        return self._run("write the command ledger", claim)

    def finish_command(self, command_id: str, ack: Pending) -> int:
        """Mark a command done and queue its acknowledgement, in one transaction; its seq."""

        def done(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE commands SET state = 'done' WHERE id = ?", (command_id,))

        return self.outbox.append([ack], also=done)[0]

    def forget_commands(self, older_than_s: float) -> None:
        """Forget executed command ids older than any expiry the hub would use."""
        cutoff = time.time() - older_than_s
        self._run(
            "prune the command ledger",
            lambda conn: conn.execute("DELETE FROM commands WHERE at < ?", (cutoff,)),
        )
