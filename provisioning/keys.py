"""Private keys on disk: created 0600 whatever the umask, loaded back, never logged.

Files are written to a temporary name opened with ``os.open(..., 0o600)`` and renamed into
place, so a key is never readable by others even for an instant, and a crash never leaves a
half-written key under the final name.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from provisioning.errors import ProvisioningError

SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
"""Key types the CA signs certificates with and issues certificates for."""

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644


def generate_key(kind: str = "ec-p256") -> SigningKey:
    """A new private key: ``ec-p256`` (default, fast), ``ec-p384``, ``rsa-2048`` or ``ed25519``."""
    if kind == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "rsa-2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ProvisioningError(f"unknown key type {kind!r}: use ec-p256, ec-p384, rsa-2048 or ed25519")


def write_file(path: str | Path, data: bytes, mode: int) -> Path:
    """Write ``data`` atomically to ``path`` with exactly ``mode`` (umask does not widen it)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)  # O_CREAT's mode is masked by the umask; fchmod is not
        with os.fdopen(fd, "wb") as handle:
            fd = -1
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)
    return target


def key_pem(key: PrivateKeyTypes, passphrase: bytes | None = None) -> bytes:
    """PKCS#8 PEM of ``key``, encrypted when a passphrase is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def write_private_key(
    path: str | Path, key: PrivateKeyTypes, passphrase: bytes | None = None
) -> Path:
    """Write ``key`` as PEM with mode 0600."""
    return write_file(path, key_pem(key, passphrase), PRIVATE_MODE)


def write_public(path: str | Path, data: bytes) -> Path:
    """Write a certificate, chain, CRL or public key (mode 0644)."""
    return write_file(path, data, PUBLIC_MODE)


def load_private_key(path: str | Path, passphrase: bytes | None = None) -> SigningKey:
    """Load a PEM private key; a wrong passphrase or damaged file gives a clear error."""
    where = Path(path)
    try:
        data = where.read_bytes()
    except FileNotFoundError as exc:
        raise ProvisioningError(f"private key {where} does not exist") from exc
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError as exc:
        raise ProvisioningError(
            f"private key {where} is encrypted: set GOVEDGE_CA_PASSPHRASE"
            if passphrase is None
            else f"private key {where} is not encrypted but a passphrase was given"
        ) from exc
    except ValueError as exc:
        # the library's message never contains key material, only why it failed
        raise ProvisioningError(f"private key {where} cannot be loaded: {exc}") from exc
    if not isinstance(
        key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    ):
        raise ProvisioningError(f"private key {where} is of an unsupported type")
    return key


def public_key_pem(key: SigningKey) -> bytes:
    """SubjectPublicKeyInfo PEM of a private key's public half."""
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def hash_for(key: SigningKey) -> hashes.SHA256 | hashes.SHA384 | None:
    """The signature hash that goes with an issuer key (None for Ed25519)."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()
