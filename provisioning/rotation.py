"""Certificate expiry and rotation.

* Fleet health: :func:`days_left` and :func:`certificate_health` for one certificate,
  :func:`fleet_expiry` over everything the CA issued (the hub shows days left per device).
* Device side: :class:`Rotation` replaces an identity's key and certificate in steps, and
  :func:`rotate_identity` / :func:`rotate_identity_async` run them: new key and CSR, obtain the
  certificate (a callable: the hub's /api/v1/renew), prove it by connecting to the broker with
  it (a callable), and only then switch; the previous key and certificate stay as ``*.old``. If
  obtaining or proving fails, the candidate files are removed and the old identity is untouched.

The proof should be the agent's own reconnect: close the MQTT link, open it with the candidate
paths, return whether CONNACK said success (on False, reconnect with the old paths after the
rollback). ``provisioning.mqtt_proof.connect_proof`` is a stand-alone proof for tools and for
agents with clean sessions; it replaces the identity's live session on the broker.

Files, for an identity ``key.pem``/``cert.pem``/``ca.pem`` in one directory: the candidate is
``key.pem.new``/``cert.pem.new`` (and ``ca.pem.new`` when the chain changed). The switch renames
the certificate, then the key; :func:`recover` (call it when the agent starts) completes or
undoes a switch cut short by a power loss, by matching the certificate to a key.
"""

from __future__ import annotations

import inspect
import os
import shutil
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from ssl import SSLContext
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from govedge.logs import fields, get_logger
from provisioning.ca import IdentityPaths, common_name, load_certificates, make_csr
from provisioning.errors import ProvisioningError, RotationError
from provisioning.index import CertificateRecord, serial_hex
from provisioning.keys import (
    generate_key,
    load_private_key,
    write_file,
    write_private_key,
    write_public,
)

log = get_logger(__name__)

DEFAULT_WARN_DAYS = 30

CertState = Literal["ok", "expiring", "expired", "not_yet_valid"]


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


@dataclass(frozen=True, slots=True)
class CertificateHealth:
    """What fleet health shows for one certificate."""

    common_name: str
    serial: str
    not_after: datetime
    days_left: float
    state: CertState


def _state(not_before: datetime, not_after: datetime, now: datetime, warn_days: float) -> CertState:
    if now < not_before:
        return "not_yet_valid"
    if now >= not_after:
        return "expired"
    if (not_after - now).total_seconds() / 86400.0 <= warn_days:
        return "expiring"
    return "ok"


def certificate_health(
    cert: x509.Certificate | bytes | str | Path,
    *,
    warn_days: float = DEFAULT_WARN_DAYS,
    now: datetime | None = None,
) -> CertificateHealth:
    """Days left and a state (ok / expiring within ``warn_days`` / expired) for a certificate."""
    c = _cert(cert)
    moment = now or datetime.now(UTC)
    return CertificateHealth(
        common_name=common_name(c.subject),
        serial=serial_hex(c.serial_number),
        not_after=c.not_valid_after_utc,
        days_left=days_left(c, moment),
        state=_state(c.not_valid_before_utc, c.not_valid_after_utc, moment, warn_days),
    )


def fleet_expiry(
    records: Iterable[CertificateRecord],
    *,
    warn_days: float = DEFAULT_WARN_DAYS,
    now: datetime | None = None,
) -> list[CertificateHealth]:
    """Newest unrevoked certificate of each device (``ca.index.all()``), soonest expiry first."""
    moment = now or datetime.now(UTC)
    newest: dict[str, CertificateRecord] = {}
    for record in records:
        if record.kind != "device" or record.revoked:
            continue
        seen = newest.get(record.common_name)
        if seen is None or record.not_after > seen.not_after:
            newest[record.common_name] = record
    out = [
        CertificateHealth(
            common_name=r.common_name,
            serial=r.serial,
            not_after=r.not_after,
            days_left=(r.not_after - moment).total_seconds() / 86400.0,
            state=_state(r.not_before, r.not_after, moment, warn_days),
        )
        for r in newest.values()
    ]
    return sorted(out, key=lambda h: h.days_left)


# ---- device-side rotation ----------------------------------------------------------------


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


def superseded_by(records: Iterable[CertificateRecord], new: CertificateRecord) -> list[str]:
    """Serials of the device's other unrevoked certificates issued before ``new``."""
    return [
        r.serial
        for r in records
        if r.kind == "device"
        and r.common_name == new.common_name
        and not r.revoked
        and r.serial != new.serial
        and r.issued_at <= new.issued_at
    ]


class RevocationSchedule:
    """Certificates to revoke at a due time, kept in a JSON file so that a restart of the hub
    does not forget them (an old certificate left valid would fail open)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, float]:
        import json

        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise RotationError(f"revocation schedule {self.path} is unreadable: {exc}") from exc
        return {str(k): float(v) for k, v in dict(data).items()}

    def _save(self, due: dict[str, float]) -> None:
        import json

        write_file(self.path, json.dumps(due, sort_keys=True).encode(), 0o600)

    def add(self, serials: Iterable[str], due_at: float) -> None:
        due = self._load()
        for serial in serials:
            due[serial] = min(due.get(serial, due_at), due_at)
        self._save(due)

    def due(self, now: float) -> list[str]:
        return sorted(s for s, at in self._load().items() if at <= now)

    def pending(self) -> dict[str, float]:
        return self._load()

    def done(self, serial: str) -> None:
        due = self._load()
        if due.pop(serial, None) is not None:
            self._save(due)


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

    from provisioning.enrollment import proof_signature

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
