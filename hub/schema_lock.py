"""One hub worker at a time builds itself on a database: creates or upgrades the schema, seeds.

Several workers started together on an empty database would each see a table missing and create
it, and all but one fail (PostgreSQL: a unique violation on ``pg_type``; SQLite: "table already
exists"). Building holds a PostgreSQL session advisory lock, or on SQLite an exclusive
``flock`` on a file beside the database; other workers wait for it, then find the schema made.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from govedge.logs import fields

log = logging.getLogger("govedge.hub.schema")

LOCK_KEY = 0x676F7665_6467  # "govedg": the hub's advisory lock id in a shared database


@contextmanager
def schema_lock(database_url: str) -> Iterator[None]:
    """Hold the database's build lock for the ``with`` block (nothing for in-memory SQLite)."""
    started = time.monotonic()
    if database_url.startswith("postgresql"):
        if database_url.startswith("postgresql://"):
            database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]
        engine = sa.create_engine(database_url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
                conn.commit()
                _waited(started)
                try:
                    yield
                finally:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
                    conn.commit()
        finally:
            engine.dispose()
        return
    path = database_url.removeprefix("sqlite:///")
    if not database_url.startswith("sqlite:///") or path in ("", ":memory:"):
        yield
        return
    lock_path = Path(f"{path}.schema-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        _waited(started)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _waited(started: float) -> None:
    waited = time.monotonic() - started
    if waited >= 1.0:
        log.info("schema_lock_waited", extra=fields(seconds=round(waited, 1)))
