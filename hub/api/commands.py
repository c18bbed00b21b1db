"""Commands to one device or a selector, and their state per device."""

from __future__ import annotations

from aiohttp import web

from hub.api.routing import ApiRoutes, Param
from hub.api.util import blocking, body_json, hub_of, json_ok, q_int
from hub.auth import OPERATE, READ
from hub.errors import ValidationError
from hub.registry import Selector

routes = ApiRoutes("commands")

COMMAND_BODY = {
    "type": "object",
    "required": ["name", "selector"],
    "properties": {
        "name": {"type": "string"},
        "args": {"type": "object"},
        "ttl_s": {"type": "number", "default": 300},
        "selector": {
            "type": "object",
            "properties": {
                "ids": {"type": "array", "items": {"type": "string"}},
                "model": {"type": "string"},
                "site": {"type": "string"},
                "labels": {"type": "object"},
            },
        },
    },
}


@routes.post(
    "/commands",
    roles=OPERATE,
    summary="Send a command to the devices a selector names",
    body=COMMAND_BODY,
)
async def create_command(request: web.Request) -> web.Response:
    hub = hub_of(request)
    data = await body_json(request)
    unknown = set(data) - {"name", "args", "ttl_s", "selector"}
    if unknown:
        raise ValidationError(f"unknown field {sorted(unknown)[0]!r}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ValidationError("field 'name' is required")
    args = data.get("args") or {}
    if not isinstance(args, dict):
        raise ValidationError("field 'args' must be an object")
    ttl = data.get("ttl_s", 300)
    if not isinstance(ttl, int | float):
        raise ValidationError("field 'ttl_s' must be a number")
    selector = Selector.from_json(data.get("selector") or {})
    targets = [d.id for d in await blocking(hub.registry.select, selector)]
    result = await blocking(hub.commands.create, targets, name, args, float(ttl))
    return json_ok(result, status=201)


@routes.get(
    "/commands",
    roles=READ,
    summary="Commands, newest first",
    query=(Param("device_id"), Param("batch"), Param("state"), Param("limit", "integer")),
)
async def list_commands(request: web.Request) -> web.Response:
    hub = hub_of(request)
    items = await blocking(
        hub.commands.search,
        device_id=request.query.get("device_id", ""),
        batch=request.query.get("batch", ""),
        state=request.query.get("state", ""),
        limit=q_int(request, "limit", 100, 1, 10_000),
    )
    summary = None
    if request.query.get("batch"):
        summary = await blocking(hub.commands.batch_summary, request.query["batch"])
    return json_ok({"items": items, "summary": summary})


@routes.get("/commands/{command_id}", roles=READ, summary="One command and its state")
async def get_command(request: web.Request) -> web.Response:
    hub = hub_of(request)
    return json_ok(await blocking(hub.commands.get, request.match_info["command_id"]))
