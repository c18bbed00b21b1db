"""Claim tokens: short-lived, single-use secrets that let a device in the field enroll.

Only a SHA-256 of each token is stored (tokens carry 192 random bits, so a fast hash is enough:
there is nothing to brute-force). Logs and listings name a token by its *token id*, the first
12 hex digits of that hash, never by the token. Consuming a token is one conditional UPDATE, so
two devices racing with the same token cannot both succeed.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from govedge.contract.topics import TopicError, check_device_id
from provisioning.errors import ProvisioningError

TOKEN_PREFIX = "gvt_"  # noqa: S105 - the public prefix of issued tokens, not a secret
REVOKED_MARK = "!revoked"
"""``used_by`` of a token an operator withdrew before anyone used it."""
DEFAULT_TTL = timedelta(minutes=30)
MAX_TTL = timedelta(days=7)

SCHEMA = """
CREATE TABLE IF NOT EXISTS claim_tokens (
    token_hash TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    site TEXT,
    device_id TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    used_by TEXT
);
"""


def _iso(when: datetime) -> str:
    """Fixed-width UTC time, so that SQL compares times as strings correctly."""
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def token_hash(token: str) -> str:
    """The stored form of an enrollment token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_id(token: str) -> str:
    """The name of a token in logs and listings (not enough to use it)."""
    return token_hash(token)[:12]


def mask_token(token: str) -> str:
    """``gvt_AbCd…`` with the secret part hidden, for messages shown to people."""
    return token[: len(TOKEN_PREFIX) + 2] + "…" if token else ""


@dataclass(frozen=True, slots=True)
class ClaimToken:
    """A stored claim token (without its secret)."""

    token_id: str
    model: str
    site: str | None
    device_id: str | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    used_by: str | None


def _row(row: sqlite3.Row) -> ClaimToken:
    def when(v: str | None) -> datetime | None:
        return datetime.fromisoformat(v) if v else None

    return ClaimToken(
        token_id=row["token_hash"][:12],
        model=row["model"],
        site=row["site"],
        device_id=row["device_id"],
        created_at=datetime.fromisoformat(row["created_at"]),
        expires_at=datetime.fromisoformat(row["expires_at"]),
        used_at=when(row["used_at"]),
        used_by=row["used_by"],
    )


class TokenStore:
    """Claim tokens in an SQLite file (by default the CA's ``registry.sqlite``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=10.0)) as db:
            db.row_factory = sqlite3.Row
            with db:
                yield db

    def create(
        self,
        model: str,
        *,
        site: str | None = None,
        device_id: str | None = None,
        ttl: timedelta = DEFAULT_TTL,
        now: datetime | None = None,
    ) -> tuple[str, ClaimToken]:
        """A new token for one device of ``model``; the secret is returned once, never stored."""
        if not model:
            raise ProvisioningError("a claim token must name a device model")
        if not timedelta(0) < ttl <= MAX_TTL:
            raise ProvisioningError("a claim token lives between 1 second and 7 days")
        if device_id is not None:
            try:
                check_device_id(device_id)
            except TopicError as exc:
                raise ProvisioningError(str(exc)) from exc
        secret = TOKEN_PREFIX + secrets.token_urlsafe(24)
        created = now or datetime.now(UTC)
        with self._connect() as db:
            db.execute(
                "INSERT INTO claim_tokens (token_hash, model, site, device_id, created_at,"
                " expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    token_hash(secret),
                    model,
                    site,
                    device_id,
                    _iso(created),
                    _iso(created + ttl),
                ),
            )
        found = self.lookup(secret)
        assert found is not None  # noqa: S101 - narrowing: the token was just inserted
        return secret, found

    def lookup(self, token: str) -> ClaimToken | None:
        """The token whose secret is ``token`` (found by its hash), used or expired ones
        included; None for an unknown secret. :meth:`consume` decides whether it may be used."""
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM claim_tokens WHERE token_hash = ?", (token_hash(token),)
            ).fetchone()
        return _row(row) if row else None

    def consume(self, token: str, device_id: str, now: datetime | None = None) -> bool:
        """Mark the token used by ``device_id``; False if someone used it first."""
        moment = _iso(now or datetime.now(UTC))
        with self._connect() as db:
            cur = db.execute(
                "UPDATE claim_tokens SET used_at = ?, used_by = ?"
                " WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
                (moment, device_id, token_hash(token), moment),
            )
            return cur.rowcount == 1

    def release(self, token: str) -> None:
        """Undo :meth:`consume` when issuing failed after it (the device may retry)."""
        with self._connect() as db:
            db.execute(
                "UPDATE claim_tokens SET used_at = NULL, used_by = NULL WHERE token_hash = ?",
                (token_hash(token),),
            )

    def revoke(self, token_id_prefix: str, now: datetime | None = None) -> ClaimToken:
        """Withdraw an unused token, named by its token id (as listed), so it can never be used."""
        prefix = token_id_prefix.strip().lower()
        if len(prefix) < 8 or any(c not in "0123456789abcdef" for c in prefix):
            raise ProvisioningError("name a token by its id: at least 8 hex digits, as listed")
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM claim_tokens WHERE substr(token_hash, 1, ?) = ?",
                (len(prefix), prefix),
            ).fetchall()
            if len(rows) != 1:
                raise ProvisioningError(
                    f"token id {prefix!r} matches {len(rows)} tokens; give more digits"
                    if rows
                    else f"no token with id {prefix!r}"
                )
            if rows[0]["used_at"] is not None:
                raise ProvisioningError(f"token {prefix} was already used by {rows[0]['used_by']}")
            db.execute(
                "UPDATE claim_tokens SET used_at = ?, used_by = ? WHERE token_hash = ?",
                (_iso(now or datetime.now(UTC)), REVOKED_MARK, rows[0]["token_hash"]),
            )
            row = db.execute(
                "SELECT * FROM claim_tokens WHERE token_hash = ?", (rows[0]["token_hash"],)
            ).fetchone()
        return _row(row)

    def all(self) -> list[ClaimToken]:
        """Every token, used, revoked and expired ones included, oldest first (secrets are
        never stored: only their hashes)."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM claim_tokens ORDER BY created_at").fetchall()
        return [_row(r) for r in rows]

    def purge_expired(self, now: datetime | None = None) -> int:
        """Delete unused tokens past their expiry; returns how many."""
        moment = _iso(now or datetime.now(UTC))
        with self._connect() as db:
            cur = db.execute(
                "DELETE FROM claim_tokens WHERE used_at IS NULL AND expires_at <= ?", (moment,)
            )
            return cur.rowcount
