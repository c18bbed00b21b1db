"""The hub's proof keys: Ed25519, in their own folder, apart from every other key of the hub.

A key's id (kid) is the first 8 bytes of the SHA-256 of its raw public key. Rotating makes a new
current key; old keys stay in the trust list so that proofs they signed still verify, and their
private halves stay on disk (mode 0600) so that a retried request issued under an old key gets
the same proof back. Delete an old ``proof-<kid>.pem`` to retire it for good.

Layout of the folder::

    current             the kid (hex) that signs new proofs and checkpoints
    proof-<kid>.pem     each private key (PKCS#8 PEM)
    trust.json          {"keys": [{"kid", "public_key" (base64 raw), "created", "retired"}]}

``trust.json`` is what a verifier needs and all it needs; the hub serves the same list at
``/api/v1/services/proof-keys``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from hub.services.errors import KeyringError

KID_BYTES = 8


def kid_of(public: Ed25519PublicKey) -> bytes:
    """A key's id: the first bytes of the SHA-256 of its raw public key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).digest()[:KID_BYTES]


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """A public key that verifies proofs, and when it was made and retired."""

    kid: bytes
    public: Ed25519PublicKey
    created: float
    retired: float | None = None

    def as_json(self) -> dict[str, Any]:
        """The key as trust lists and the API publish it: kid and raw public key in hex and
        base64."""
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {
            "kid": self.kid.hex(),
            "public_key": base64.b64encode(raw).decode(),
            "algorithm": "EdDSA (Ed25519)",
            "created": self.created,
            "retired": self.retired,
        }


class TrustList:
    """Public keys by kid: everything an offline verifier holds."""

    def __init__(self, keys: list[TrustedKey]) -> None:
        self.keys = {k.kid: k for k in keys}

    def get(self, kid: bytes) -> TrustedKey | None:
        """The key with this kid, or None when the list does not trust it."""
        return self.keys.get(kid)

    def as_json(self) -> dict[str, Any]:
        """The trust list document that ``from_json`` reads back (what offline verifiers keep)."""
        return {"keys": [k.as_json() for k in self.keys.values()]}

    @classmethod
    def from_json(cls, data: bytes | dict[str, Any]) -> TrustList:
        """Read a trust list (the file or the API's answer); a bad entry is a KeyringError."""
        try:
            doc = msgspec.json.decode(data) if isinstance(data, bytes) else data
            keys = []
            for entry in doc["keys"]:
                public = Ed25519PublicKey.from_public_bytes(
                    base64.b64decode(entry["public_key"], validate=True)
                )
                kid = bytes.fromhex(entry["kid"])
                if kid != kid_of(public):
                    raise KeyringError(f"trust list: kid {entry['kid']} is not its key's id")
                keys.append(TrustedKey(kid, public, float(entry["created"]), entry.get("retired")))
        except KeyringError:
            raise
        except (KeyError, TypeError, ValueError, msgspec.DecodeError) as exc:
            raise KeyringError(f"trust list is not readable: {exc}") from None
        return cls(keys)

    @classmethod
    def from_file(cls, path: Path) -> TrustList:
        """Read a trust list file; KeyringError if it is missing or holds a bad entry."""
        try:
            return cls.from_json(path.read_bytes())
        except FileNotFoundError:
            raise KeyringError(f"{path}: no such trust list") from None


class ProofKeyring:
    """The signing side: the current private key and every key ever used, in one folder.

    Nothing is written until a key is first needed, so a hub that issues no proofs leaves no
    key behind.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._private: dict[bytes, Ed25519PrivateKey] = {}
        self._current: bytes | None = None
        self._trust_cache: tuple[tuple[int, int, int], TrustList] | None = None

    # -- reading --------------------------------------------------------------------------

    def _trust_path(self) -> Path:
        return self.folder / "trust.json"

    def trust(self) -> TrustList:
        """The trust list on disk; read again only when the file changed (a rotation)."""
        path = self._trust_path()
        try:
            info = path.stat()
            stamp = (info.st_ino, info.st_mtime_ns, info.st_size)  # replaced whole on rotation
        except FileNotFoundError:
            return TrustList([])
        cached = self._trust_cache
        if cached is not None and cached[0] == stamp:
            return cached[1]
        trust = TrustList.from_file(path)
        self._trust_cache = (stamp, trust)
        return trust

    def current(self) -> tuple[bytes, Ed25519PrivateKey]:
        """The kid and private key that sign now; made on first use."""
        with self._lock:
            if self._current is None:
                marker = self.folder / "current"
                if marker.exists():
                    self._current = bytes.fromhex(marker.read_text().strip())
                else:
                    self._current = self._generate()
            return self._current, self._load(self._current)

    def private(self, kid: bytes) -> Ed25519PrivateKey | None:
        """An older key's private half, to re-sign a retried request; None if retired for good."""
        with self._lock:
            try:
                return self._load(kid)
            except KeyringError:
                return None

    def _load(self, kid: bytes) -> Ed25519PrivateKey:
        key = self._private.get(kid)
        if key is None:
            path = self.folder / f"proof-{kid.hex()}.pem"
            try:
                loaded = serialization.load_pem_private_key(path.read_bytes(), None)
            except FileNotFoundError:
                raise KeyringError(f"{path}: no such proof key") from None
            if not isinstance(loaded, Ed25519PrivateKey):
                raise KeyringError(f"{path}: not an Ed25519 key")
            key = self._private[kid] = loaded
        return key

    # -- writing --------------------------------------------------------------------------

    def rotate(self) -> bytes:
        """Make a new current key; the old one is marked retired and stays trusted."""
        with self._lock:
            self._current = self._generate()
            return self._current

    def _generate(self) -> bytes:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = Ed25519PrivateKey.generate()
        kid = kid_of(key.public_key())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path = self.folder / f"proof-{kid.hex()}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        now = time.time()
        trust = self.trust()
        keys = [
            TrustedKey(k.kid, k.public, k.created, k.retired if k.retired else now)
            for k in trust.keys.values()
        ]
        keys.append(TrustedKey(kid, key.public_key(), now))
        _write_atomic(self._trust_path(), msgspec.json.encode(TrustList(keys).as_json()))
        _write_atomic(self.folder / "current", kid.hex().encode())
        self._private[kid] = key
        return kid


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
