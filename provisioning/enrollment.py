"""Field enrollment and renewal: a device sends a CSR and gets its certificate back.

* Enroll: a device holding only a claim token (``govedge provision token create``) posts
  ``{"token", "model", "csr"}``; the token must be known, unused, unexpired and for that model
  (and site, if the token names one, and device id, if it names one). The certificate's common
  name is the CSR's, which must not already hold an active certificate.
* Renew (rotation): a device posts ``{"csr", "certificate", "proof"}``: its current certificate
  and a signature over the CSR's bytes made with its current key. The current certificate must
  be ours, unrevoked and unexpired, and carry the same device id as the CSR.

Every refusal is logged (token by id, never the token) and counted in ``service.counters``.
The hub mounts the routes with :func:`add_enrollment_routes` (POST /api/v1/enroll and
/api/v1/renew) behind its HTTPS; devices call ``enroll_device`` / ``renew_certificate``
(provisioning.device.client).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import msgspec
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from govedge.logs import fields, get_logger
from provisioning.ca import (
    DEVICE_DAYS,
    FleetCA,
    load_certificates,
    load_csr,
    pem,
)
from provisioning.device.client import EnrollmentResult
from provisioning.errors import CAError, CSRError, EnrollmentRefused
from provisioning.index import serial_hex
from provisioning.tokens import DEFAULT_TTL, REVOKED_MARK, ClaimToken, TokenStore, token_id

if TYPE_CHECKING:
    from aiohttp import web

log = get_logger(__name__)

MAX_BODY = 32 * 1024

REASONS = (
    "bad_request",
    "unknown_token",
    "token_used",
    "token_revoked",
    "token_expired",
    "wrong_model",
    "wrong_site",
    "wrong_device",
    "bad_csr",
    "device_exists",
    "bad_proof",
    "certificate_revoked",
    "certificate_expired",
    "unknown_certificate",
)
"""Every refusal reason, as sent in the ``error`` field of a refusal and counted."""

HTTP_STATUS = {
    "bad_request": 400,
    "bad_csr": 400,
    "device_exists": 409,
}
"""HTTP status per reason; every other refusal is 403."""


def _check_proof(cert: x509.Certificate, csr_pem: bytes, proof: str) -> bool:
    try:
        raw = base64.b64decode(proof.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return False
    public = cert.public_key()
    try:
        if isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(raw, csr_pem, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public, rsa.RSAPublicKey):
            public.verify(raw, csr_pem, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(raw, csr_pem)
        else:
            return False
    except InvalidSignature:
        return False
    return True


class EnrollmentService:
    """Checks claim tokens and renewal proofs, and has the fleet CA sign CSRs."""

    def __init__(
        self,
        ca: FleetCA,
        tokens: TokenStore | None = None,
        *,
        cert_days: int = DEVICE_DAYS,
    ) -> None:
        self.ca = ca
        self.tokens = tokens or TokenStore(ca.index.path)
        self.cert_days = cert_days
        self.counters: Counter[str] = Counter()

    def create_token(
        self,
        model: str,
        *,
        site: str | None = None,
        device_id: str | None = None,
        ttl: timedelta = DEFAULT_TTL,
    ) -> tuple[str, ClaimToken]:
        """A claim token for one device of ``model``; hand the secret to the installer."""
        secret, token = self.tokens.create(model, site=site, device_id=device_id, ttl=ttl)
        log.info(
            "claim_token_created",
            extra=fields(
                token_id=token.token_id,
                model=model,
                site=site,
                expires_at=token.expires_at.isoformat(),
            ),
        )
        return secret, token

    def _refuse(self, reason: str, message: str, **context: Any) -> EnrollmentRefused:
        self.counters[f"refused_{reason}"] += 1
        log.warning("enrollment_refused", extra=fields(reason=reason, **context))
        return EnrollmentRefused(reason, message)

    def _result(self, cert: x509.Certificate) -> EnrollmentResult:
        cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        return EnrollmentResult(
            device_id=str(cn),
            serial=serial_hex(cert.serial_number),
            certificate=pem(cert).decode(),
            chain=self.ca.chain_pem().decode(),
            not_after=cert.not_valid_after_utc,
        )

    def enroll(
        self, token: str, model: str, csr_pem: bytes | str, *, site: str | None = None
    ) -> EnrollmentResult:
        """Issue a certificate for a CSR presented with a claim token, or refuse."""
        tid = token_id(token) if token else "-"
        now = datetime.now(UTC)
        stored = self.tokens.lookup(token) if token else None
        if stored is None:
            raise self._refuse("unknown_token", "claim token is not known", token_id=tid)
        if stored.used_by == REVOKED_MARK:
            raise self._refuse("token_revoked", "claim token was withdrawn", token_id=tid)
        if stored.used_at is not None:
            raise self._refuse(
                "token_used",
                "claim token was already used",
                token_id=tid,
                used_by=stored.used_by,
            )
        if stored.expires_at <= now:
            raise self._refuse("token_expired", "claim token has expired", token_id=tid)
        if model != stored.model:
            raise self._refuse(
                "wrong_model",
                f"claim token is for another model than {model!r}",
                token_id=tid,
                model=model,
            )
        if site is not None and stored.site is not None and site != stored.site:
            raise self._refuse("wrong_site", "claim token is for another site", token_id=tid)
        try:
            csr = load_csr(csr_pem)
        except CSRError as exc:
            raise self._refuse("bad_csr", str(exc), token_id=tid) from exc
        cns = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        device_id = str(cns[0].value) if len(cns) == 1 else ""
        try:
            self.ca.check_device_name(device_id)
        except CAError as exc:
            raise self._refuse("bad_csr", str(exc), token_id=tid) from exc
        if stored.device_id is not None and device_id != stored.device_id:
            raise self._refuse("wrong_device", "claim token is for another device id", token_id=tid)
        if device_id and self.ca.active_certificates(device_id):
            raise self._refuse(
                "device_exists",
                f"device {device_id!r} already has an active certificate (revoke it first)",
                token_id=tid,
                device_id=device_id,
            )
        if not self.tokens.consume(token, device_id or "?", now):
            # lost a race with another request holding the same token
            raise self._refuse("token_used", "claim token was already used", token_id=tid)
        try:
            cert = self.ca.sign_device_csr(
                csr, model=stored.model, site=stored.site, days=self.cert_days
            )
        except (CSRError, CAError) as exc:
            self.tokens.release(token)
            raise self._refuse("bad_csr", str(exc), token_id=tid) from exc
        self.counters["enrolled"] += 1
        log.info(
            "device_enrolled",
            extra=fields(token_id=tid, device_id=device_id, serial=serial_hex(cert.serial_number)),
        )
        return self._result(cert)

    def renew(
        self, csr_pem: bytes | str, certificate_pem: bytes | str, proof: str
    ) -> EnrollmentResult:
        """Issue a new certificate to a device that proves it holds its current one."""
        csr_bytes = csr_pem.encode() if isinstance(csr_pem, str) else csr_pem
        cert_bytes = (
            certificate_pem.encode() if isinstance(certificate_pem, str) else certificate_pem
        )
        try:
            current = load_certificates(cert_bytes)[0]
        except (CAError, IndexError) as exc:
            raise self._refuse("bad_request", "current certificate is not PEM") from exc
        try:
            self.ca.verify_issued(current)
        except CAError as exc:
            raise self._refuse("unknown_certificate", str(exc)) from exc
        serial = serial_hex(current.serial_number)
        record = self.ca.index.get(current.serial_number)
        if record is None:
            raise self._refuse(
                "unknown_certificate", "certificate is not in the CA's records", serial=serial
            )
        if record.revoked:
            raise self._refuse(
                "certificate_revoked", "current certificate is revoked", serial=serial
            )
        if record.not_after <= datetime.now(UTC):
            raise self._refuse(
                "certificate_expired",
                "current certificate has expired: enroll again with a claim token",
                serial=serial,
            )
        try:
            csr = load_csr(csr_bytes)
        except CSRError as exc:
            raise self._refuse("bad_csr", str(exc), serial=serial) from exc
        if not _check_proof(current, csr_bytes, proof):
            raise self._refuse("bad_proof", "proof of the current key is invalid", serial=serial)
        wanted = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if len(wanted) != 1 or str(wanted[0].value) != record.common_name:
            raise self._refuse(
                "wrong_device", "CSR is for another device id than the certificate", serial=serial
            )
        try:
            cert = self.ca.sign_device_csr(
                csr,
                expected_id=record.common_name,
                model=record.model,
                site=record.site,
                days=self.cert_days,
            )
        except (CSRError, CAError) as exc:
            raise self._refuse("bad_csr", str(exc), serial=serial) from exc
        self.counters["renewed"] += 1
        log.info(
            "device_certificate_renewed",
            extra=fields(
                device_id=record.common_name,
                old_serial=serial,
                serial=serial_hex(cert.serial_number),
            ),
        )
        return self._result(cert)


# ---- HTTP (server side) ------------------------------------------------------------------

Text = Annotated[str, msgspec.Meta(min_length=1)]


class EnrollRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The body of POST /api/v1/enroll: the claim token, the model, the CSR (PEM)."""

    token: Text
    model: Text
    csr: Text
    site: Text | None = None


class RenewRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The body of POST /api/v1/renew: a new CSR, the current certificate, and the proof (the
    CSR signed with the current key)."""

    csr: Text
    certificate: Text
    proof: Text


class ConfirmRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The body of POST /api/v1/renew/confirm: the new certificate, and the proof of its key."""

    certificate: Text
    proof: Text


S = TypeVar("S")


async def read_body(request: web.Request, struct: type[S]) -> S:
    """The JSON body as ``struct``; a refusal (bad_request) names the JSON path at fault."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise EnrollmentRefused("bad_request", f"request body over {MAX_BODY} bytes")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise EnrollmentRefused("bad_request", f"request body over {MAX_BODY} bytes")
    try:
        return msgspec.json.decode(raw, type=struct)
    except msgspec.ValidationError as exc:
        raise EnrollmentRefused("bad_request", f"request body: {exc}") from None
    except msgspec.DecodeError as exc:
        raise EnrollmentRefused("bad_request", f"request body is not JSON: {exc}") from None


def refusal_body(exc: EnrollmentRefused) -> dict[str, str]:
    """A refusal in the hub's one error shape: ``error`` for a person, ``code`` (the reason) for
    a program."""
    return {"error": str(exc), "code": exc.reason}


def add_enrollment_routes(
    app: web.Application, service: EnrollmentService, prefix: str = "/api/v1"
) -> None:
    """Mount POST ``{prefix}/enroll`` and ``{prefix}/renew`` on an aiohttp application."""
    from aiohttp import web

    def refusal(exc: EnrollmentRefused) -> web.Response:
        if exc.reason == "bad_request":
            service.counters["refused_bad_request"] += 1
        return web.json_response(refusal_body(exc), status=HTTP_STATUS.get(exc.reason, 403))

    async def enroll(request: web.Request) -> web.Response:
        try:
            body = await read_body(request, EnrollRequest)
            result = await asyncio.to_thread(
                service.enroll, body.token, body.model, body.csr, site=body.site
            )
        except EnrollmentRefused as exc:
            return refusal(exc)
        return web.json_response(result.to_json())

    async def renew(request: web.Request) -> web.Response:
        try:
            body = await read_body(request, RenewRequest)
            result = await asyncio.to_thread(service.renew, body.csr, body.certificate, body.proof)
        except EnrollmentRefused as exc:
            return refusal(exc)
        return web.json_response(result.to_json())

    app.router.add_post(f"{prefix}/enroll", enroll)
    app.router.add_post(f"{prefix}/renew", renew)
