"""Device identities on the hub: field enrollment, renewal and the fleet's certificate health.

A hub extension (``install(hub, app)``). With ``ca_dir`` set in the hub config it opens the fleet
CA and mounts provisioning's ``POST /api/v1/enroll`` and ``POST /api/v1/renew`` (their callers
hold no API token: a claim token or the device's current key is their credential, checked by
:class:`provisioning.enrollment.EnrollmentService`), and ``GET /api/v1/fleet/certificates``,
days left per device (newest unrevoked certificate of each), soonest expiry first.

Serve the hub over HTTPS when devices enroll through it: a claim token travels in the body.

After a rotation the old certificate does not stay valid until an operator remembers it: the
device, once the broker accepted its new certificate, confirms it (``POST
/api/v1/renew/confirm``, the new certificate and a signature by the new key), and the hub revokes
the device's older certificates ``rotation_revoke_grace_s`` later (reason ``superseded``). The
schedule is kept in ``<ca_dir>/revocations-due.json`` and swept in the background; the CRL file
is rewritten on each revocation (the broker rereads it on SIGHUP).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import msgspec
from aiohttp import web

from govedge.logs import fields, get_logger
from hub.api.routing import API_PREFIX, ROLES_ATTR, ApiRoutes, body_of, query_of
from hub.api.util import blocking, hub_of, json_ok
from hub.auth import READ
from hub.background import in_thread, while_serving
from hub.context import ExtensionKey, Hub
from hub.errors import HubError
from provisioning.device.rotation import CONFIRM_PATH
from provisioning.enrollment import (
    HTTP_STATUS,
    ConfirmRequest,
    EnrollmentService,
    add_enrollment_routes,
)
from provisioning.errors import EnrollmentRefused

log = get_logger(__name__)

PUBLIC = frozenset({"*"})
"""The roles of the enrollment routes: no API token (the request carries its own proof)."""

ENROLLMENT = ExtensionKey("enrollment service", EnrollmentService, "hub.enrollment")
"""Its counters and the fleet CA; installed when the hub config has ``ca_dir``."""

routes = ApiRoutes("certificates")


WarnDays = Annotated[
    float, msgspec.Meta(ge=0, le=3650, description="days before expiry that count as expiring")
]


class CertificateQuery(msgspec.Struct, forbid_unknown_fields=True):
    """How many days ahead of expiry a certificate counts as expiring."""

    warn_days: WarnDays | None = None


class CertificateHealth(msgspec.Struct):
    """Each device's newest unrevoked certificate, and how many are in each state."""

    items: list[dict[str, Any]]
    summary: dict[str, int]
    warn_days: float


@routes.get(
    "/fleet/certificates",
    roles=READ,
    summary="Days left of each device's certificate, soonest expiry first",
    query=CertificateQuery,
    response=CertificateHealth,
)
async def fleet_certificates(request: web.Request) -> web.Response:
    """The fleet's certificates: each device's newest, and how many are expiring or expired."""
    from provisioning.rotation import DEFAULT_WARN_DAYS, fleet_expiry

    hub = hub_of(request)
    warn_days = query_of(request, CertificateQuery).warn_days
    if warn_days is None:
        warn_days = DEFAULT_WARN_DAYS
    service = hub.extensions[ENROLLMENT]
    # newest issued first: of two certificates ending in the same second (a rotation just
    # done), fleet_expiry keeps the first it sees
    records = list(reversed(await blocking(service.ca.index.all)))
    now = datetime.now(UTC)
    items = [
        {
            "device_id": h.common_name,
            "serial": h.serial,
            "not_after": h.not_after.isoformat(),
            "days_left": round(h.days_left, 2),
            "state": h.state,
        }
        for h in fleet_expiry(records, warn_days=warn_days, now=now)
    ]
    summary = {state: 0 for state in ("ok", "expiring", "expired", "not_yet_valid")}
    for item in items:
        summary[str(item["state"])] += 1
    return json_ok({"items": items, "summary": summary, "warn_days": warn_days})


SCHEDULE_FILE = "revocations-due.json"


class SupersededRevoker:
    """Revokes a device's older certificates once it confirmed its new one, after a grace."""

    def __init__(self, hub: Hub, service: Any) -> None:
        from provisioning.rotation import RevocationSchedule

        self.hub = hub
        self.service = service
        self.ca = service.ca
        self.schedule = RevocationSchedule(Path(hub.config.ca_dir) / SCHEDULE_FILE)

    @property
    def grace_s(self) -> float:
        """Seconds an older certificate stays valid after its device confirmed the new one."""
        return float(self.hub.config.rotation_revoke_grace_s)

    def confirm(self, certificate_pem: str, proof: str) -> dict[str, Any]:
        """Check the confirmation; schedule the older certificates. Raises EnrollmentRefused."""
        from provisioning.ca import load_certificates
        from provisioning.device.rotation import confirm_message
        from provisioning.enrollment import _check_proof
        from provisioning.errors import CAError, EnrollmentRefused
        from provisioning.index import serial_hex
        from provisioning.rotation import superseded_by

        counters = self.service.counters
        try:
            cert = load_certificates(certificate_pem.encode())[0]
            self.ca.verify_issued(cert)
        except (CAError, IndexError, ValueError) as exc:
            counters["refused_confirm"] += 1
            raise EnrollmentRefused(
                "unknown_certificate", f"not a certificate of ours: {exc}"
            ) from None
        serial = serial_hex(cert.serial_number)
        record = self.ca.index.get(cert.serial_number)
        if record is None or record.revoked or record.kind != "device":
            counters["refused_confirm"] += 1
            raise EnrollmentRefused(
                "unknown_certificate", f"certificate {serial} is not an active device certificate"
            )
        if not _check_proof(cert, confirm_message(serial), proof):
            counters["refused_confirm"] += 1
            raise EnrollmentRefused("bad_proof", "proof of the new key is invalid")
        older = superseded_by(self.ca.index.by_common_name(record.common_name), record)
        due_at = time.time() + self.grace_s
        if older:
            self.schedule.add(older, due_at)
        counters["rotations_confirmed"] += 1
        log.info(
            "certificate_rotation_confirmed",
            extra=fields(
                device_id=record.common_name,
                serial=serial,
                superseded=",".join(older),
                revoke_in_s=self.grace_s,
            ),
        )
        return {"serial": serial, "superseded": older, "revoke_at": due_at if older else None}

    def sweep(self, now: float | None = None) -> list[str]:
        """Revoke what is due; returns the serials revoked."""
        from provisioning.errors import CAError

        done: list[str] = []
        for serial in self.schedule.due(time.time() if now is None else now):
            try:
                record = self.ca.index.get(int(serial, 16))
                if record is not None and not record.revoked:
                    self.ca.revoke(int(serial, 16), "superseded")
                    self.service.counters["superseded_revoked"] += 1
                    done.append(serial)
            except CAError as exc:
                log.error("superseded_revoke_failed", extra=fields(serial=serial, error=str(exc)))
                continue
            self.schedule.done(serial)
        return done

    def period_s(self) -> float:
        """How often to sweep: a quarter of the grace, between 0.2 and 30 seconds."""
        return max(0.2, min(30.0, self.grace_s / 4))

    async def run(self) -> None:
        """Sweep for due revocations forever (a background task); a failed sweep is logged and
        retried."""
        while True:
            try:
                await in_thread(self.sweep)
            except Exception:  # a bad sweep must not end the sweeping
                log.exception("superseded_sweep_failed")
            await asyncio.sleep(self.period_s())


SUPERSEDED_REVOKER = ExtensionKey(
    "superseded-certificate revoker", SupersededRevoker, "hub.enrollment"
)


class CertificateRefused(HubError):
    """A renewal confirmation refused: ``code`` is the provisioning reason (bad_proof, ...)."""

    def __init__(self, refused: EnrollmentRefused) -> None:
        super().__init__(str(refused))
        self.code = refused.reason
        self.status = HTTP_STATUS.get(refused.reason, 403)


@routes.post(
    CONFIRM_PATH.removeprefix(API_PREFIX),
    roles=PUBLIC,
    summary="A device confirms it runs its renewed certificate (signed with the new key); the "
    "certificates it superseded are then revoked after the grace period",
    body=ConfirmRequest,
    errors={403: "the certificate or the proof is refused"},
)
async def confirm_renewal(request: web.Request) -> web.Response:
    """Revoke a device's superseded certificate once it proves it holds the new one."""
    revoker = hub_of(request).extensions[SUPERSEDED_REVOKER]
    body = body_of(request, ConfirmRequest)
    try:
        result = await blocking(revoker.confirm, body.certificate, body.proof)
    except EnrollmentRefused as exc:
        raise CertificateRefused(exc) from None
    return json_ok(result)


def install(hub: Hub, app: web.Application) -> None:
    """Mount enrollment, renewal and certificate health when the hub has a fleet CA."""
    if not hub.config.ca_dir:
        return
    from provisioning.ca import FleetCA, passphrase_from_env

    service = EnrollmentService(FleetCA.open(hub.config.ca_dir, passphrase_from_env()))
    hub.extensions.add(ENROLLMENT, service)
    before = {id(r) for r in app.router.routes()}
    add_enrollment_routes(app, service)
    revoker = SupersededRevoker(hub, service)
    hub.extensions.add(SUPERSEDED_REVOKER, revoker)

    while_serving(app, revoker.run)
    for route in app.router.routes():
        if id(route) not in before:
            # the hub's auth middleware refuses API routes that declare no roles
            setattr(route.handler, ROLES_ATTR, PUBLIC)
    routes.install(app)
