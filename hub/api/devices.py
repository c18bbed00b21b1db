"""Devices: list with filters and paging, detail, state history, registration."""

from __future__ import annotations

from aiohttp import web

from hub.api.routing import ApiRoutes, Param
from hub.api.util import blocking, body_json, hub_of, json_ok, q_bool, q_int
from hub.auth import OPERATE, READ
from hub.errors import ValidationError

routes = ApiRoutes("devices")

DEVICE_FIELDS = {"id", "model", "site", "location", "labels", "firmware"}

DEVICE_BODY = {
    "type": "object",
    "required": ["id"],
    "properties": {
        "id": {"type": "string"},
        "model": {"type": "string"},
        "site": {"type": "string"},
        "location": {
            "type": "object",
            "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
        },
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "firmware": {"type": "string"},
    },
}


@routes.get(
    "/devices",
    roles=READ,
    summary="List devices, filtered and paged",
    query=(
        Param("site"),
        Param("model"),
        Param("online", "boolean"),
        Param("label", description="key=value"),
        Param("offset", "integer"),
        Param("limit", "integer", "1..1000, default 100"),
    ),
)
async def list_devices(request: web.Request) -> web.Response:
    hub = hub_of(request)
    label = None
    if raw := request.query.get("label"):
        key, sep, value = raw.partition("=")
        if not sep:
            raise ValidationError("query parameter 'label' must be key=value")
        label = (key, value)
    items, total = await blocking(
        hub.registry.search,
        site=request.query.get("site", ""),
        model=request.query.get("model", ""),
        online=q_bool(request, "online"),
        label=label,
        offset=q_int(request, "offset", 0, 0, 10**9),
        limit=q_int(request, "limit", 100, 1, 1000),
    )
    return json_ok({"total": total, "items": [d.as_dict() for d in items]})


@routes.post("/devices", roles=OPERATE, summary="Register or update a device", body=DEVICE_BODY)
async def register_device(request: web.Request) -> web.Response:
    hub = hub_of(request)
    data = await body_json(request)
    unknown = set(data) - DEVICE_FIELDS
    if unknown:
        raise ValidationError(f"unknown field {sorted(unknown)[0]!r}")
    if not isinstance(data.get("id"), str):
        raise ValidationError("field 'id' is required and must be a string")
    await blocking(hub.registry.register_many, [data])
    info = await blocking(hub.registry.get, data["id"])
    return json_ok(info.as_dict(), status=201)


@routes.get(
    "/devices/{device_id}", roles=READ, summary="One device", responses={"404": "no such device"}
)
async def get_device(request: web.Request) -> web.Response:
    hub = hub_of(request)
    info = await blocking(hub.registry.get, request.match_info["device_id"])
    return json_ok(info.as_dict())


@routes.get(
    "/devices/{device_id}/history",
    roles=READ,
    summary="Online/offline state changes, newest first",
    query=(Param("limit", "integer"),),
)
async def device_history(request: web.Request) -> web.Response:
    hub = hub_of(request)
    items = await blocking(
        hub.registry.history,
        request.match_info["device_id"],
        q_int(request, "limit", 100, 1, 1000),
    )
    return json_ok({"items": items})
