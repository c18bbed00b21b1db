"""API tokens and roles. Every route is denied unless it names the roles that may use it.

Tokens are random strings shown once at creation; only their SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.db import tokens
from hub.errors import AuthError, ValidationError

ROLES: Final = ("admin", "operator", "emergency", "viewer")

# Who may use what; admin may use everything.
READ: Final = frozenset(ROLES)
OPERATE: Final = frozenset({"admin", "operator"})
EMERGENCY: Final = frozenset({"admin", "emergency"})
ADMIN: Final = frozenset({"admin"})
PUBLIC: Final = frozenset({"*"})


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """Create, check and revoke tokens; checks are cached for a few seconds."""

    def __init__(self, engine: Engine, cache_s: float = 5.0) -> None:
        self.engine = engine
        self.cache_s = cache_s
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def create(self, role: str, name: str = "") -> str:
        if role not in ROLES:
            raise ValidationError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        token = "ge_" + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(
                tokens.insert().values(
                    name=name or role,
                    role=role,
                    token_hash=hash_token(token),
                    created=time.time(),
                    revoked=False,
                )
            )
        return token

    def role_of(self, token: str) -> str:
        """The role of a valid token, or AuthError."""
        digest = hash_token(token)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
            if hit and now - hit[1] < self.cache_s:
                return hit[0]
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(tokens.c.role, tokens.c.revoked).where(tokens.c.token_hash == digest)
            ).first()
        if row is None or row.revoked:
            raise AuthError("unknown or revoked token")
        with self._lock:
            self._cache[digest] = (row.role, now)
        return str(row.role)

    def revoke(self, token_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(tokens.update().where(tokens.c.id == token_id).values(revoked=True))
        with self._lock:
            self._cache.clear()

    def all(self) -> list[dict[str, object]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(tokens).order_by(tokens.c.id))
            return [
                {
                    "id": r.id,
                    "name": r.name,
                    "role": r.role,
                    "created": r.created,
                    "revoked": bool(r.revoked),
                }
                for r in rows
            ]
