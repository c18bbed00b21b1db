"""Fleet health, ingest counters, tokens, and the API's own description."""

from __future__ import annotations

from aiohttp import web

from hub.api.routing import ApiRoutes
from hub.api.util import blocking, body_json, hub_of, json_ok
from hub.auth import ADMIN, PUBLIC, READ
from hub.context import OPENAPI_KEY
from hub.errors import ValidationError

routes = ApiRoutes("fleet")


@routes.get("/health", roles=READ, summary="Fleet health: devices online, offline, sick")
async def fleet_health(request: web.Request) -> web.Response:
    hub = hub_of(request)
    summary = await blocking(hub.registry.summary)
    summary["ingest"] = {
        "accepted": hub.pipeline.accepted_total,
        "rejected": dict(hub.pipeline.rejected),
        "duplicates": hub.pipeline.tracker.duplicates,
        "gaps": hub.pipeline.tracker.total_gaps(),
        "queue_depth": hub.link.pending(),
        "broker_connected": hub.link.connected.is_set(),
        "lanes": hub.link.lanes(),  # backlog and lag of the alarm and bulk lanes
    }
    return json_ok(summary)


@routes.post(
    "/tokens",
    roles=ADMIN,
    summary="Create an API token (shown once)",
    body={
        "type": "object",
        "required": ["role"],
        "properties": {"role": {"type": "string"}, "name": {"type": "string"}},
    },
)
async def create_token(request: web.Request) -> web.Response:
    hub = hub_of(request)
    data = await body_json(request)
    role = data.get("role")
    if not isinstance(role, str):
        raise ValidationError("field 'role' is required")
    token = await blocking(hub.tokens.create, role, str(data.get("name", "")))
    return json_ok({"token": token, "role": role}, status=201)


@routes.get("/openapi.json", roles=PUBLIC, summary="This API's OpenAPI 3 document")
async def openapi(request: web.Request) -> web.Response:
    return json_ok(request.app[OPENAPI_KEY])
