"""Device identities on the hub: field enrollment, renewal and the fleet's certificate health.

A hub extension (``install(hub, app)``). With ``ca_dir`` set in the hub config it opens the fleet
CA and mounts provisioning's ``POST /api/v1/enroll`` and ``POST /api/v1/renew`` (their callers
hold no API token: a claim token or the device's current key is their credential, checked by
:class:`provisioning.enrollment.EnrollmentService`), and ``GET /api/v1/fleet/certificates``,
days left per device (newest unrevoked certificate of each), soonest expiry first.

Serve the hub over HTTPS when devices enroll through it: a claim token travels in the body.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from aiohttp import web

from hub.api.routing import ROLES_ATTR, ApiRoutes, query_of
from hub.api.util import blocking, hub_of, json_ok
from hub.auth import READ
from hub.context import Hub

PUBLIC = frozenset({"*"})
"""The roles of the enrollment routes: no API token (the request carries its own proof)."""

ENROLLMENT_KEY = "enrollment"
"""``hub.extras[ENROLLMENT_KEY]``: the EnrollmentService (its counters, its CA)."""

routes = ApiRoutes("certificates")


WarnDays = Annotated[
    float, msgspec.Meta(ge=0, le=3650, description="days before expiry that count as expiring")
]


class CertificateQuery(msgspec.Struct, forbid_unknown_fields=True):
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
    from provisioning.rotation import DEFAULT_WARN_DAYS, fleet_expiry

    hub = hub_of(request)
    warn_days = query_of(request, CertificateQuery).warn_days
    if warn_days is None:
        warn_days = DEFAULT_WARN_DAYS
    service = hub.extras[ENROLLMENT_KEY]
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


def install(hub: Hub, app: web.Application) -> None:
    """Mount enrollment, renewal and certificate health when the hub has a fleet CA."""
    if not hub.config.ca_dir:
        return
    from provisioning.ca import FleetCA, passphrase_from_env
    from provisioning.enrollment import EnrollmentService, add_enrollment_routes

    service = EnrollmentService(FleetCA.open(hub.config.ca_dir, passphrase_from_env()))
    hub.extras[ENROLLMENT_KEY] = service
    before = {id(r) for r in app.router.routes()}
    add_enrollment_routes(app, service)
    for route in app.router.routes():
        if id(route) not in before:
            # the hub's auth middleware refuses API routes that declare no roles
            setattr(route.handler, ROLES_ATTR, PUBLIC)
    routes.install(app)
    hub.extras.setdefault("api_groups", []).append(routes)
