"""Certificate rotation on the device: new key and CSR, obtain the certificate, prove it, switch.

:class:`Rotation` replaces an identity's key and certificate in steps, and :func:`rotate_identity`
/ :func:`rotate_identity_async` run them: new key and CSR, obtain the certificate (a callable: the
hub's /api/v1/renew), prove it by connecting to the broker with it (a callable), and only then
switch; the previous key and certificate stay as ``*.old``. If obtaining or proving fails, the
candidate files are removed and the old identity is untouched. :func:`recover` completes or undoes
a switch cut short by a power loss. The fleet side (expiry of every issued certificate, revoking
superseded ones) is provisioning.rotation.
"""

from __future__ import annotations

import inspect
import os
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from ssl import SSLContext

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from govedge.logs import fields, get_logger
from provisioning.device.identity import (
    IdentityPaths,
    common_name,
    load_certificates,
    make_csr,
    serial_hex,
)
from provisioning.errors import ProvisioningError, RotationError
from provisioning.keys import (
    generate_key,
    load_private_key,
    write_file,
    write_private_key,
    write_public,
)

log = get_logger(__name__)


def _cert(source: x509.Certificate | bytes | str | Path) -> x509.Certificate:
    if isinstance(source, x509.Certificate):
        return source
    if isinstance(source, Path):
        return load_certificates(source.read_bytes())[0]
    data = source.encode() if isinstance(source, str) else source
    return load_certificates(data)[0]


def days_left(cert: x509.Certificate | bytes | str | Path, now: datetime | None = None) -> float:
    """Days until ``cert`` expires (negative once expired). A str is PEM text; a Path a file."""
    moment = now or datetime.now(UTC)
    return (_cert(cert).not_valid_after_utc - moment).total_seconds() / 86400.0


def _spki(public_key: object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _suffixed(paths: IdentityPaths, suffix: str, *, ca: bool = False) -> IdentityPaths:
    return IdentityPaths(
        paths.directory,
        key_name=paths.key_name + suffix,
        cert_name=paths.cert_name + suffix,
        ca_name=paths.ca_name + suffix if ca else paths.ca_name,
    )


@dataclass(frozen=True, slots=True)
class RotationResult:
    """How a rotation ended. On failure the previous identity is in place and unchanged."""

    ok: bool
    device_id: str
    old_serial: str
    new_serial: str | None = None
    reason: str = ""


class Rotation:
    """One rotation of the identity in ``paths``, step by step (no I/O beyond its files)."""

    def __init__(self, paths: IdentityPaths, key_type: str = "ec-p256") -> None:
        self.paths = paths
        self.key_type = key_type
        try:
            current = load_certificates(paths.cert.read_bytes())[0]
        except (OSError, ProvisioningError) as exc:
            raise RotationError(f"no current certificate at {paths.cert}: {exc}") from exc
        self.device_id = common_name(current.subject)
        self.old_serial = serial_hex(current.serial_number)
        self.candidate = _suffixed(paths, ".new")
        self.previous = _suffixed(paths, ".old", ca=True)
        self.new_serial: str | None = None
        self._new_chain = False

    def begin(self) -> bytes:
        """Generate the new key (written 0600 as ``key.pem.new``); return its CSR (PEM)."""
        key = generate_key(self.key_type)
        write_private_key(self.candidate.key, key)
        return make_csr(key, self.device_id)

    def install(self, certificate: bytes, chain: bytes | None = None) -> IdentityPaths:
        """Check the issued certificate fits the new key and device id; write it as candidate."""
        try:
            cert = load_certificates(certificate)[0]
        except ProvisioningError as exc:
            raise RotationError(f"issued certificate is not PEM: {exc}") from exc
        key = load_private_key(self.candidate.key)
        if _spki(cert.public_key()) != _spki(key.public_key()):
            raise RotationError("issued certificate is not for the new key")
        if common_name(cert.subject) != self.device_id:
            raise RotationError(
                f"issued certificate is for {common_name(cert.subject)!r}, not {self.device_id!r}"
            )
        write_public(self.candidate.cert, certificate)
        if chain is not None and (
            not self.paths.ca.exists() or self.paths.ca.read_bytes() != chain
        ):
            self._new_chain = True
            self.candidate = _suffixed(self.paths, ".new", ca=True)
            write_public(self.candidate.ca, chain)
        self.new_serial = serial_hex(cert.serial_number)
        return self.candidate

    def commit(self) -> None:
        """Switch to the candidate; the previous files are kept as ``*.old``."""
        for current, old in (
            (self.paths.key, self.previous.key),
            (self.paths.cert, self.previous.cert),
            (self.paths.ca, self.previous.ca),
        ):
            if current.exists():  # written with the original's mode from the start
                write_file(old, current.read_bytes(), current.stat().st_mode & 0o777)
        if self._new_chain:
            os.replace(self.candidate.ca, self.paths.ca)
        os.replace(self.candidate.cert, self.paths.cert)  # cert first: recover() keys on it
        os.replace(self.candidate.key, self.paths.key)
        log.info(
            "certificate_rotated",
            extra=fields(
                device_id=self.device_id, old_serial=self.old_serial, serial=self.new_serial
            ),
        )

    def rollback(self, reason: str) -> None:
        """Remove the candidate files; the current identity was never touched."""
        for path in (
            self.candidate.key,
            self.candidate.cert,
            self.paths.ca.with_name(self.paths.ca_name + ".new"),
        ):
            path.unlink(missing_ok=True)
        log.warning(
            "certificate_rotation_rolled_back",
            extra=fields(device_id=self.device_id, serial=self.old_serial, reason=reason),
        )


ObtainResult = bytes | tuple[bytes, bytes | None]
"""A certificate (PEM), or (certificate, chain) when the chain is also returned."""


def _split(result: ObtainResult) -> tuple[bytes, bytes | None]:
    return result if isinstance(result, tuple) else (result, None)


def rotate_identity(
    paths: IdentityPaths,
    obtain: Callable[[bytes], ObtainResult],
    prove: Callable[[IdentityPaths], bool],
    *,
    key_type: str = "ec-p256",
) -> RotationResult:
    """Rotate the identity in ``paths``: switch only if ``prove(candidate)`` returns True."""
    rotation = Rotation(paths, key_type)
    try:
        csr = rotation.begin()
        candidate = rotation.install(*_split(obtain(csr)))
        proven = prove(candidate)
    except (ProvisioningError, OSError) as exc:
        rotation.rollback(str(exc))
        return RotationResult(False, rotation.device_id, rotation.old_serial, reason=str(exc))
    except BaseException:
        rotation.rollback("interrupted")
        raise
    return _conclude(rotation, proven)


async def rotate_identity_async(
    paths: IdentityPaths,
    obtain: Callable[[bytes], Awaitable[ObtainResult]],
    prove: Callable[[IdentityPaths], Awaitable[bool] | bool],
    *,
    key_type: str = "ec-p256",
) -> RotationResult:
    """:func:`rotate_identity` for an asyncio agent (``prove`` may be sync or async)."""
    rotation = Rotation(paths, key_type)
    try:
        csr = rotation.begin()
        candidate = rotation.install(*_split(await obtain(csr)))
        verdict = prove(candidate)
        proven = await verdict if inspect.isawaitable(verdict) else verdict
    except (ProvisioningError, OSError) as exc:
        rotation.rollback(str(exc))
        return RotationResult(False, rotation.device_id, rotation.old_serial, reason=str(exc))
    except BaseException:
        rotation.rollback("interrupted")
        raise
    return _conclude(rotation, proven)


def _conclude(rotation: Rotation, proven: bool) -> RotationResult:
    """Keep the new identity if the broker accepted it, else restore the old one."""
    if not proven:
        rotation.rollback("broker refused the new certificate")
        return RotationResult(
            False,
            rotation.device_id,
            rotation.old_serial,
            rotation.new_serial,
            "broker refused the new certificate",
        )
    rotation.commit()
    return RotationResult(True, rotation.device_id, rotation.old_serial, rotation.new_serial)


def recover(paths: IdentityPaths) -> str:
    """Make ``paths`` consistent after a crash; returns what was done ("ok", "completed", ...).

    The certificate decides: if it does not match ``key.pem`` but matches ``key.pem.new`` the
    switch is completed; if it matches ``key.pem.old`` the old certificate is restored.
    Leftover candidate files of an unfinished rotation are removed.
    """
    candidate, previous = _suffixed(paths, ".new", ca=True), _suffixed(paths, ".old", ca=True)
    try:
        cert = load_certificates(paths.cert.read_bytes())[0]
        cert_key = _spki(cert.public_key())
    except (OSError, ProvisioningError) as exc:
        raise RotationError(f"identity at {paths.directory} has no readable certificate") from exc

    def matches(path: Path) -> bool:
        try:
            return path.exists() and _spki(load_private_key(path).public_key()) == cert_key
        except ProvisioningError:
            return False

    action = "ok"
    if not matches(paths.key):
        if matches(candidate.key):
            os.replace(candidate.key, paths.key)
            if candidate.ca.exists():
                os.replace(candidate.ca, paths.ca)
            action = "completed"
        elif previous.cert.exists() and matches(previous.key):
            # certificate switched but key did not and no candidate key: undo the certificate
            shutil.copy2(previous.cert, paths.cert)
            action = "restored"
        else:
            raise RotationError(f"identity at {paths.directory}: certificate matches no key")
    for leftover in (candidate.key, candidate.cert, candidate.ca):
        leftover.unlink(missing_ok=True)
    if action != "ok":
        log.warning(
            "identity_recovered", extra=fields(directory=str(paths.directory), action=action)
        )
    return action


# ---- the old certificate, once the new one is proven ------------------------------------

CONFIRM_PATH = "/api/v1/renew/confirm"
"""Where a device that proved its new identity to the broker says so, signed with the new key."""


def confirm_message(serial: str) -> bytes:
    """What the device signs with its new key to confirm the rotation to ``serial``."""
    return f"govedge-rotation-confirmed:{serial.upper()}".encode()


async def confirm_rotation(
    base_url: str,
    paths: IdentityPaths,
    *,
    ssl: SSLContext | None = None,
    request_timeout: float = 15.0,
) -> None:
    """Tell the hub this device holds its new identity (the broker accepted it): POST the new
    certificate and a signature by the new key. The hub then revokes the old certificate after
    its grace period. Raises ProvisioningError if the hub does not take it."""
    import aiohttp

    from provisioning.device.client import proof_signature

    cert = load_certificates(paths.cert.read_bytes())[0]
    serial = serial_hex(cert.serial_number)
    key = load_private_key(paths.key)
    payload = {
        "certificate": paths.cert.read_text(),
        "proof": proof_signature(key, confirm_message(serial)),
    }
    url = base_url.rstrip("/") + CONFIRM_PATH
    timeout = aiohttp.ClientTimeout(total=request_timeout)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, json=payload, ssl=ssl if ssl is not None else True) as resp,
        ):
            if resp.status != 200:
                raise RotationError(f"{url} answered {resp.status}: {(await resp.text())[:200]}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise RotationError(f"cannot reach {url}: {exc}") from exc
