"""``GET /api/v1/audit``: the audit log, searchable by an admin."""

from __future__ import annotations

from aiohttp import web

from hub.api.routing import ApiRoutes, Param
from hub.api.util import blocking, hub_of, json_ok, q_int, q_time
from hub.audit.store import AuditStore
from hub.auth import ADMIN

routes = ApiRoutes("audit")

AUDIT_STORE_KEY = "audit_store"


@routes.get(
    "/audit",
    roles=ADMIN,
    summary="The audit log, newest first: who did what, to which devices, when, from where",
    query=(
        Param("q", description="text in the path, action, actor or targets"),
        Param("actor", description="token name"),
        Param("device", description="a device id the call touched"),
        Param("action", description="prefix, e.g. 'POST /commands'"),
        Param("since", description="Unix seconds or relative (-1d)"),
        Param("until", description="Unix seconds or relative"),
        Param("offset", "integer"),
        Param("limit", "integer", "1..1000, default 100"),
    ),
)
async def search_audit(request: web.Request) -> web.Response:
    hub = hub_of(request)
    store: AuditStore = hub.extras[AUDIT_STORE_KEY]
    since = q_time(request, "since", 0.0) if request.query.get("since") else None
    until = q_time(request, "until", 0.0) if request.query.get("until") else None
    items, total = await blocking(
        store.search,
        q=request.query.get("q", ""),
        actor=request.query.get("actor", ""),
        device=request.query.get("device", ""),
        action=request.query.get("action", ""),
        since=since,
        until=until,
        offset=q_int(request, "offset", 0, 0, 10**9),
        limit=q_int(request, "limit", 100, 1, 1000),
    )
    return json_ok({"total": total, "items": items})
