"""The device's side of enrollment and renewal: post a CSR to the hub's HTTPS, get a certificate.

``enroll_device`` (claim token, new key) and ``renew_certificate`` (proof signed with the current
key) call the routes provisioning.enrollment serves on the hub.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from govedge.logs import fields, get_logger
from provisioning.device.identity import IdentityPaths, make_csr
from provisioning.errors import EnrollmentRefused, ProvisioningError
from provisioning.keys import SigningKey, generate_key, load_private_key, write_private_key

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class EnrollmentResult:
    """A certificate issued to a device, as PEM text."""

    device_id: str
    serial: str
    certificate: str
    chain: str
    not_after: datetime

    def to_json(self) -> dict[str, Any]:
        """The JSON form the hub answers an enrollment with (``not_after`` in ISO 8601)."""
        return {
            "device_id": self.device_id,
            "serial": self.serial,
            "certificate": self.certificate,
            "chain": self.chain,
            "not_after": self.not_after.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Any) -> EnrollmentResult:
        """Read the hub's enrollment answer; ProvisioningError when a field is missing or
        malformed."""
        try:
            return cls(
                device_id=str(data["device_id"]),
                serial=str(data["serial"]),
                certificate=str(data["certificate"]),
                chain=str(data["chain"]),
                not_after=datetime.fromisoformat(str(data["not_after"])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProvisioningError(f"enrollment answer is malformed: {exc}") from exc


def proof_signature(key: SigningKey, csr_pem: bytes) -> str:
    """Base64 signature over ``csr_pem`` with the device's *current* key (renewal proof)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        raw = key.sign(csr_pem, ec.ECDSA(hashes.SHA256()))
    elif isinstance(key, rsa.RSAPrivateKey):
        raw = key.sign(csr_pem, padding.PKCS1v15(), hashes.SHA256())
    else:
        raw = key.sign(csr_pem)
    return base64.b64encode(raw).decode("ascii")


async def _post(
    url: str, payload: dict[str, Any], ssl: Any, request_timeout: float
) -> EnrollmentResult:
    import aiohttp

    client_timeout = aiohttp.ClientTimeout(total=request_timeout)
    try:
        async with (
            aiohttp.ClientSession(timeout=client_timeout) as session,
            session.post(url, json=payload, ssl=ssl if ssl is not None else True) as resp,
        ):
            try:
                data = await resp.json(content_type=None)
            except ValueError as exc:
                raise ProvisioningError(f"{url} answered {resp.status} without JSON") from exc
            if resp.status != 200:
                # {"error": message, "code": reason}; older hubs sent {"error": reason,
                # "message": message}
                body = data if isinstance(data, dict) else {}
                reason = str(body.get("code") or body.get("error") or "refused")
                message = str(body.get("error", "") if "code" in body else body.get("message", ""))
                raise EnrollmentRefused(reason, f"{url} refused: {reason}: {message}")
            return EnrollmentResult.from_json(data)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ProvisioningError(f"cannot reach {url}: {exc}") from exc


async def request_certificate(
    base_url: str,
    *,
    token: str,
    model: str,
    csr_pem: bytes,
    site: str | None = None,
    ssl: Any = None,
    request_timeout: float = 15.0,
) -> EnrollmentResult:
    """POST a CSR with a claim token to ``{base_url}/api/v1/enroll``."""
    payload: dict[str, Any] = {"token": token, "model": model, "csr": csr_pem.decode()}
    if site is not None:
        payload["site"] = site
    return await _post(base_url.rstrip("/") + "/api/v1/enroll", payload, ssl, request_timeout)


async def renew_certificate(
    base_url: str,
    *,
    current: IdentityPaths,
    csr_pem: bytes,
    ssl: Any = None,
    request_timeout: float = 15.0,
) -> EnrollmentResult:
    """POST a CSR for a new key, proven with the current identity, to ``/api/v1/renew``."""
    key = load_private_key(current.key)
    payload = {
        "csr": csr_pem.decode(),
        "certificate": current.cert.read_text(),
        "proof": proof_signature(key, csr_pem),
    }
    return await _post(base_url.rstrip("/") + "/api/v1/renew", payload, ssl, request_timeout)


async def enroll_device(
    base_url: str,
    *,
    token: str,
    model: str,
    device_id: str,
    out_dir: str | Path,
    site: str | None = None,
    ssl: Any = None,
    key_type: str = "ec-p256",
    request_timeout: float = 15.0,
) -> IdentityPaths:
    """Device side of enrollment: new key, CSR, certificate; writes key/cert/ca in ``out_dir``.

    Nothing is written unless the hub issued the certificate.
    """
    key = generate_key(key_type)
    csr_pem = make_csr(key, device_id)
    result = await request_certificate(
        base_url,
        token=token,
        model=model,
        csr_pem=csr_pem,
        site=site,
        ssl=ssl,
        request_timeout=request_timeout,
    )
    paths = IdentityPaths(Path(out_dir))
    from provisioning.keys import write_public

    write_private_key(paths.key, key)
    write_public(paths.cert, result.certificate.encode())
    write_public(paths.ca, result.chain.encode())
    log.info("enrolled", extra=fields(device_id=result.device_id, serial=result.serial))
    return paths
