"""``GET /api/v1/audit``: the audit log, searchable by an admin."""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web

from hub.api.routing import ApiRoutes, query_of
from hub.api.util import blocking, hub_of, json_ok, parse_time
from hub.audit.store import AuditStore
from hub.auth import ADMIN
from hub.context import ExtensionKey

routes = ApiRoutes("audit")

AUDIT_STORE = ExtensionKey("audit log", AuditStore, "hub.audit.setup")


class AuditQuery(msgspec.Struct, forbid_unknown_fields=True):
    """The filters and page of GET /api/v1/audit."""

    q: Annotated[str, msgspec.Meta(description="text in the path, action, actor or targets")] = ""
    actor: Annotated[str, msgspec.Meta(description="token name")] = ""
    device: Annotated[str, msgspec.Meta(description="a device id the call touched")] = ""
    action: Annotated[str, msgspec.Meta(description="prefix, e.g. 'POST /commands'")] = ""
    since: Annotated[str, msgspec.Meta(description="Unix seconds or relative (-1d)")] = ""
    until: Annotated[str, msgspec.Meta(description="Unix seconds or relative")] = ""
    offset: Annotated[int, msgspec.Meta(ge=0, le=10**9)] = 0
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000, description="default 100")] = 100


@routes.get(
    "/audit",
    roles=ADMIN,
    summary="The audit log, newest first: who did what, to which devices, when, from where",
    query=AuditQuery,
)
async def search_audit(request: web.Request) -> web.Response:
    """Search the audit log, within a time range when one is given."""
    hub = hub_of(request)
    store = hub.extensions[AUDIT_STORE]
    query = query_of(request, AuditQuery)
    since = parse_time(query.since, "since", 0.0) if query.since else None
    until = parse_time(query.until, "until", 0.0) if query.until else None
    items, total = await blocking(
        store.search,
        q=query.q,
        actor=query.actor,
        device=query.device,
        action=query.action,
        since=since,
        until=until,
        offset=query.offset,
        limit=query.limit,
    )
    return json_ok({"total": total, "items": items})
