"""API tokens and roles. Every route is denied unless it names the roles that may use it.

Tokens are random strings shown once at creation; only their SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.db import tokens
from hub.errors import AuthError, ValidationError

ROLES: Final = ("admin", "operator", "emergency", "viewer", "kiosk")

# Who may use what; admin may use everything. A kiosk token is bound to one device (its name is
# the device id) and may use only the citizen-service routes, never read the fleet.
READ: Final = frozenset({"admin", "operator", "emergency", "viewer"})
KIOSK: Final = frozenset({"admin", "kiosk"})
OPERATE: Final = frozenset({"admin", "operator"})
EMERGENCY: Final = frozenset({"admin", "emergency"})
ADMIN: Final = frozenset({"admin"})
PUBLIC: Final = frozenset({"*"})

DEVICE_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def hash_token(token: str) -> str:
    """What the hub stores of a token: its SHA-256, never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """Create, check and revoke tokens; checks are cached for a few seconds."""

    def __init__(self, engine: Engine, cache_s: float = 5.0) -> None:
        self.engine = engine
        self.cache_s = cache_s
        self._cache: dict[str, tuple[str, str, float]] = {}
        self._lock = threading.Lock()

    def create(self, role: str, name: str = "") -> str:
        """Create a token for a role and return it: the only time it is shown (only its hash is
        kept). A kiosk token's name must be its device id. ValidationError otherwise."""
        if role not in ROLES:
            raise ValidationError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        if role == "kiosk" and not DEVICE_NAME.fullmatch(name):
            raise ValidationError(
                "a kiosk token needs --name <device id> (letters, digits, '.', '_', '-', "
                "at most 64 characters)"
            )
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
        return self.identity_of(token)[0]

    def identity_of(self, token: str) -> tuple[str, str]:
        """(role, name) of a valid token, or AuthError; a kiosk token's name is its device id."""
        digest = hash_token(token)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
            if hit and now - hit[2] < self.cache_s:
                return hit[0], hit[1]
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(tokens.c.role, tokens.c.name, tokens.c.revoked).where(
                    tokens.c.token_hash == digest
                )
            ).first()
        if row is None or row.revoked:
            raise AuthError("unknown or revoked token")
        with self._lock:
            self._cache[digest] = (str(row.role), str(row.name), now)
        return str(row.role), str(row.name)

    def revoke(self, token_id: int) -> None:
        """Revoke a token by id; the check cache is emptied, so it stops working at once in this
        worker and within ``cache_s`` in the others. An unknown id is not an error."""
        with self.engine.begin() as conn:
            conn.execute(tokens.update().where(tokens.c.id == token_id).values(revoked=True))
        with self._lock:
            self._cache.clear()

    def all(self) -> list[dict[str, object]]:
        """Every token's id, name, role and state; never the token or its hash."""
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
