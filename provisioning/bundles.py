"""Signed config bundles: the hub signs with Ed25519, the agent refuses anything else.

A bundle is a JSON object. Its signed form is::

    {"format": "govedge-bundle/1", "key_id": "<16 hex>", "payload": {...},
     "signature": "<base64 of Ed25519 over canonical JSON of payload>"}

Canonical JSON: keys sorted, no spaces, UTF-8, no NaN/Infinity. The verifier re-derives the
canonical bytes from ``payload``, so re-indenting the file keeps it valid while changing any
value breaks it. ``key_id`` names the signing key (first 8 bytes of SHA-256 of the raw public
key) so a device can hold the old and the new key across a hub key rotation.

For ``config/desired`` messages (govedge.contract ConfigDesiredData), the hub puts
:func:`config_signature` of ``{"version", "config"}`` in the ``signature`` field (under 256
characters) and the agent checks it with :func:`verify_config`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from provisioning.errors import BundleSignatureError, ProvisioningError
from provisioning.keys import load_private_key

FORMAT = "govedge-bundle/1"
SIGNATURE_PREFIX = "ed25519"


def canonical_json(value: Any) -> bytes:
    """The one byte string a JSON value signs as."""
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise ProvisioningError(f"bundle is not plain JSON: {exc}") from exc


def key_id(public_key: ed25519.Ed25519PublicKey) -> str:
    """A short id of a public key: the first 16 hex digits of its SHA-256."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_signing_key(
    path: str | Path, passphrase: bytes | None = None
) -> ed25519.Ed25519PrivateKey:
    """The Ed25519 signing key in ``path``."""
    key = load_private_key(path, passphrase)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ProvisioningError(f"{path} is not an Ed25519 key")
    return key


def load_public_key(source: str | Path | bytes) -> ed25519.Ed25519PublicKey:
    """An Ed25519 public key from a PEM file path or PEM bytes."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise ProvisioningError("bundle verification key is not a PEM public key") from exc
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise ProvisioningError("bundle verification key is not an Ed25519 key")
    return key


class BundleSigner:
    """The hub's side: holds the Ed25519 private key."""

    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        self._key = key
        self.key_id = key_id(key.public_key())

    @classmethod
    def from_file(cls, path: str | Path, passphrase: bytes | None = None) -> BundleSigner:
        """The signer of the Ed25519 private key in ``path``; ProvisioningError when it is not
        one."""
        return cls(load_signing_key(path, passphrase))

    def public_key(self) -> ed25519.Ed25519PublicKey:
        """The public half, which devices trust (written as ``bundle-signing.pub``)."""
        return self._key.public_key()

    def sign(self, bundle: Mapping[str, Any]) -> dict[str, Any]:
        """The signed form of ``bundle`` (a dict ready for json.dumps)."""
        payload = dict(bundle)
        signature = self._key.sign(canonical_json(payload))
        return {
            "format": FORMAT,
            "key_id": self.key_id,
            "payload": payload,
            "signature": base64.b64encode(signature).decode("ascii"),
        }

    def sign_bytes(self, bundle: Mapping[str, Any]) -> bytes:
        """The signed form serialised as JSON (what is written to ``bundle.json``)."""
        return json.dumps(self.sign(bundle), ensure_ascii=False, indent=2).encode("utf-8")

    def config_signature(self, version: int, config: Mapping[str, Any]) -> str:
        """The ``signature`` field of a config/desired message: ``ed25519:<key id>:<b64>``."""
        message = canonical_json({"config": dict(config), "version": version})
        sig = base64.b64encode(self._key.sign(message)).decode("ascii")
        return f"{SIGNATURE_PREFIX}:{self.key_id}:{sig}"


class BundleVerifier:
    """The device's side: one or more trusted public keys (old and new across a rotation)."""

    def __init__(self, keys: ed25519.Ed25519PublicKey | Iterable[ed25519.Ed25519PublicKey]) -> None:
        many = [keys] if isinstance(keys, ed25519.Ed25519PublicKey) else list(keys)
        if not many:
            raise ProvisioningError("a bundle verifier needs at least one public key")
        self._keys = {key_id(k): k for k in many}

    @classmethod
    def from_files(cls, *paths: str | Path) -> BundleVerifier:
        """A verifier trusting the Ed25519 public keys in these PEM files (old and new across a
        key rotation)."""
        return cls([load_public_key(Path(p)) for p in paths])

    def _check(self, kid: str, signature_b64: str, message: bytes) -> None:
        key = self._keys.get(kid)
        if key is None:
            raise BundleSignatureError(f"bundle signed by unknown key {kid[:16]!r}")
        try:
            signature = base64.b64decode(signature_b64.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise BundleSignatureError("bundle signature is not base64") from exc
        try:
            key.verify(signature, message)
        except InvalidSignature as exc:
            raise BundleSignatureError("bundle signature does not match its content") from exc

    def verify(self, signed: Mapping[str, Any] | bytes | str) -> dict[str, Any]:
        """The payload of a correctly signed bundle, else BundleSignatureError."""
        if isinstance(signed, bytes | str):
            try:
                signed = json.loads(signed)
            except (ValueError, UnicodeDecodeError) as exc:
                raise BundleSignatureError("bundle is not JSON") from exc
        if not isinstance(signed, Mapping):
            raise BundleSignatureError("bundle is not a JSON object")
        if signed.get("format") != FORMAT or "signature" not in signed:
            raise BundleSignatureError("bundle is unsigned (no govedge-bundle/1 signature)")
        payload, kid, sig = signed.get("payload"), signed.get("key_id"), signed.get("signature")
        if not isinstance(payload, dict) or not isinstance(kid, str) or not isinstance(sig, str):
            raise BundleSignatureError("signed bundle is malformed")
        try:
            message = canonical_json(payload)
        except ProvisioningError as exc:
            raise BundleSignatureError(str(exc)) from exc
        self._check(kid, sig, message)
        return payload

    def verify_file(self, path: str | Path) -> dict[str, Any]:
        """The payload of the signed bundle in ``path``; BundleSignatureError as
        :meth:`verify`, OSError when the file cannot be read."""
        return self.verify(Path(path).read_bytes())

    def verify_config(self, version: int, config: Mapping[str, Any], signature: str) -> None:
        """Check a config/desired message's signature field; raise BundleSignatureError."""
        if not signature:
            raise BundleSignatureError("config is unsigned")
        prefix, _, rest = signature.partition(":")
        kid, _, sig = rest.partition(":")
        if prefix != SIGNATURE_PREFIX or not kid or not sig:
            raise BundleSignatureError("config signature is not of the form ed25519:<key>:<sig>")
        try:
            message = canonical_json({"config": dict(config), "version": version})
        except ProvisioningError as exc:
            raise BundleSignatureError(str(exc)) from exc
        self._check(kid, sig, message)


def sign(bundle: Mapping[str, Any], key: ed25519.Ed25519PrivateKey) -> dict[str, Any]:
    """Function form of :meth:`BundleSigner.sign`."""
    return BundleSigner(key).sign(bundle)


def verify(
    signed: Mapping[str, Any] | bytes | str,
    public_key: ed25519.Ed25519PublicKey | Iterable[ed25519.Ed25519PublicKey],
) -> dict[str, Any]:
    """Function form of :meth:`BundleVerifier.verify`."""
    return BundleVerifier(public_key).verify(signed)
