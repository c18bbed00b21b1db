"""Fleet health, ingest counters, tokens, and the API's own description."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from aiohttp import web

from hub.api.routing import ApiRoutes, body_of, one_of
from hub.api.util import blocking, hub_of, json_ok
from hub.auth import ADMIN, PUBLIC, READ, ROLES
from hub.context import OPENAPI_KEY

routes = ApiRoutes("fleet")

Role = Annotated[str, one_of(ROLES)]


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    """The role (and for a kiosk, the device id) of a token to create."""

    role: Role
    name: Annotated[str, msgspec.Meta(max_length=64)] = ""


class SickDevice(msgspec.Struct):
    """A device that reports a driver in trouble."""

    id: str
    drivers: dict[str, Any]  # driver name: its state, as the device reported it


class Ingest(msgspec.Struct):
    """The ingest pipeline's counters, for telling a quiet fleet from a stuck hub."""

    accepted: int  # by this worker
    rejected: dict[str, int]  # by this worker
    duplicates: int  # messages received twice, by any worker (the streams table)
    gaps: int  # sequence numbers missing, over every worker's streams (the streams table)
    queue_depth: int
    broker_connected: bool


class Health(msgspec.Struct):
    """The fleet at a glance: devices online, offline and sick, and the ingest counters."""

    devices: int
    online: int
    offline: int
    sick: list[SickDevice]
    ingest: Ingest


class TokenOut(msgspec.Struct):
    """A new token: shown once, only its hash is kept."""

    token: str
    role: Role


@routes.get(
    "/health", roles=READ, summary="Fleet health: devices online, offline, sick", response=Health
)
async def fleet_health(request: web.Request) -> web.Response:
    """Report the fleet's health and the ingest counters."""
    hub = hub_of(request)
    summary = await blocking(hub.registry.summary)
    # Every worker's streams, merged in the database (read at most once a second).
    gaps, duplicates = await blocking(hub.pipeline.stream_totals)
    summary["ingest"] = {
        "accepted": hub.pipeline.accepted_total,
        "rejected": dict(hub.pipeline.rejected),
        "duplicates": duplicates,
        "gaps": gaps,
        "queue_depth": hub.link.pending(),
        "broker_connected": hub.link.connected.is_set(),
        "lanes": hub.link.lanes(),  # backlog and lag of the alarm and bulk lanes
    }
    return json_ok(summary)


@routes.post(
    "/tokens",
    roles=ADMIN,
    summary="Create an API token (shown once)",
    body=TokenIn,
    response=TokenOut,
    status=201,
)
async def create_token(request: web.Request) -> web.Response:
    """Create an API token; the answer is the only place its text appears."""
    hub = hub_of(request)
    body = body_of(request, TokenIn)
    token = await blocking(hub.tokens.create, body.role, body.name)
    return json_ok({"token": token, "role": body.role}, status=201)


@routes.get("/openapi.json", roles=PUBLIC, summary="This API's OpenAPI 3 document")
async def openapi(request: web.Request) -> web.Response:
    """Serve the OpenAPI document built from the routes at start-up."""
    return json_ok(request.app[OPENAPI_KEY])
