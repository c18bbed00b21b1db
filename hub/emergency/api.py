"""The emergency center's REST routes and the WebSocket feed, under /api/v1."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from aiohttp import web

from hub.api.routing import ApiRoutes, Param
from hub.api.util import blocking, body_json, json_ok, q_int
from hub.auth import EMERGENCY, READ, hash_token
from hub.context import HUB_KEY, ROLE_KEY
from hub.db import tokens
from hub.emergency.dispatch import DispatchService
from hub.emergency.feed import FeedNotifier, serve_feed
from hub.emergency.webhooks import WebhookService
from hub.errors import ValidationError


@dataclass
class Emergency:
    """The emergency services of one hub worker."""

    dispatch: DispatchService
    webhooks: WebhookService
    notifier: FeedNotifier
    gap_wait_s: float = 1.0


EMERGENCY_KEY = web.AppKey("emergency", Emergency)

routes = ApiRoutes("emergency")

WEBHOOK_BODY = {
    "type": "object",
    "required": ["url", "secret"],
    "properties": {
        "url": {"type": "string"},
        "secret": {"type": "string", "minLength": 16},
        "severities": {"type": "array", "items": {"type": "string"}},
        "enabled": {"type": "boolean"},
        "from_cursor": {"type": "integer"},
    },
}
RESOURCE_BODY = {
    "type": "object",
    "required": ["kind", "name", "location"],
    "properties": {
        "kind": {"type": "string", "enum": ["team", "supply", "shelter"]},
        "name": {"type": "string"},
        "location": {
            "type": "object",
            "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
        },
        "capacity": {"type": "integer"},
        "available": {"type": "integer"},
        "unit": {"type": "string"},
        "contact": {"type": "string"},
        "notes": {"type": "string"},
    },
}


def _svc(request: web.Request) -> Emergency:
    return request.app[EMERGENCY_KEY]


def _id(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise ValidationError(f"{name} must be an integer") from None


def _token_name(request: web.Request) -> str:
    """The acting token's name, or its role."""
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else request.query.get("access_token", "")
    with request.app[HUB_KEY].engine.connect() as conn:
        name = conn.execute(
            sa.select(tokens.c.name).where(tokens.c.token_hash == hash_token(token))
        ).scalar()
    return str(name or request.get(ROLE_KEY, ""))[:64]


async def _who(request: web.Request, data: dict[str, object]) -> str:
    """Who acts: the body's ``by`` (a person at a shared desk), else the token's name."""
    by = data.get("by", "")
    if not isinstance(by, str) or len(by) > 64:
        raise ValidationError("field 'by' must be a string of at most 64 characters")
    return by or await blocking(_token_name, request)


def _note(data: dict[str, object]) -> str:
    note = data.get("note", "")
    if not isinstance(note, str) or len(note) > 2000:
        raise ValidationError("field 'note' must be a string of at most 2000 characters")
    return note


# --- feed ------------------------------------------------------------------------------------


@routes.get(
    "/feed",
    roles=EMERGENCY,
    summary="WebSocket: alarm events after ?cursor=N (replay, then live); each carries its cursor",
    query=(
        Param("cursor", description="last cursor seen; 0 replays everything, 'latest' skips"),
        Param("access_token", description="the token, for browsers that cannot set headers"),
    ),
)
async def feed(request: web.Request) -> web.StreamResponse:
    svc = _svc(request)
    return await serve_feed(request, svc.dispatch.engine, svc.notifier, svc.gap_wait_s)


@routes.get(
    "/feed/snapshot",
    roles=EMERGENCY,
    summary="Alarms in hand (active or dispatched) and the cursor to stream from after them",
)
async def snapshot(request: web.Request) -> web.Response:
    svc = _svc(request)
    from hub.emergency.alarmview import last_cursor

    cursor = await blocking(last_cursor, svc.dispatch.engine)
    items = await blocking(svc.dispatch.board)
    return json_ok({"cursor": cursor, "items": items})


# --- webhooks --------------------------------------------------------------------------------


@routes.get(
    "/webhooks/dead-letters",
    roles=EMERGENCY,
    summary="Deliveries that failed every attempt",
    query=(Param("limit", "integer"),),
)
async def dead_letters(request: web.Request) -> web.Response:
    items = await blocking(
        _svc(request).webhooks.deliveries, "dead", None, q_int(request, "limit", 100, 1, 1000)
    )
    return json_ok({"items": items})


@routes.post(
    "/webhooks/dead-letters/{delivery_id}/retry",
    roles=EMERGENCY,
    summary="Queue a dead letter again, with its attempts reset",
    responses={"404": "no such delivery"},
)
async def retry_dead_letter(request: web.Request) -> web.Response:
    item = await blocking(_svc(request).webhooks.retry, _id(request, "delivery_id"))
    return json_ok(item)


@routes.get("/webhooks", roles=EMERGENCY, summary="Webhook subscriptions")
async def list_webhooks(request: web.Request) -> web.Response:
    return json_ok({"items": await blocking(_svc(request).webhooks.all)})


@routes.post(
    "/webhooks",
    roles=EMERGENCY,
    summary="Subscribe a URL to alarm events (HMAC-SHA256 signed, optional severity filter)",
    body=WEBHOOK_BODY,
)
async def create_webhook(request: web.Request) -> web.Response:
    data = await body_json(request)
    return json_ok(await blocking(_svc(request).webhooks.create, data), status=201)


@routes.get("/webhooks/{webhook_id}", roles=EMERGENCY, summary="One webhook subscription")
async def get_webhook(request: web.Request) -> web.Response:
    return json_ok(await blocking(_svc(request).webhooks.get, _id(request, "webhook_id")))


@routes.put("/webhooks/{webhook_id}", roles=EMERGENCY, summary="Change a webhook subscription")
async def update_webhook(request: web.Request) -> web.Response:
    data = await body_json(request)
    hook_id = _id(request, "webhook_id")
    return json_ok(await blocking(_svc(request).webhooks.update, hook_id, data))


@routes.delete(
    "/webhooks/{webhook_id}", roles=EMERGENCY, summary="Remove a subscription and its deliveries"
)
async def delete_webhook(request: web.Request) -> web.Response:
    await blocking(_svc(request).webhooks.delete, _id(request, "webhook_id"))
    return json_ok({"deleted": True})


@routes.get(
    "/webhooks/{webhook_id}/deliveries",
    roles=EMERGENCY,
    summary="A subscription's deliveries, newest first",
    query=(Param("state", description="pending, delivered or dead"), Param("limit", "integer")),
)
async def webhook_deliveries(request: web.Request) -> web.Response:
    items = await blocking(
        _svc(request).webhooks.deliveries,
        request.query.get("state") or None,
        _id(request, "webhook_id"),
        q_int(request, "limit", 100, 1, 1000),
    )
    return json_ok({"items": items})


# --- resources -------------------------------------------------------------------------------


@routes.get(
    "/resources",
    roles=READ,
    summary="Response teams, supplies and shelters",
    query=(Param("kind", description="team, supply or shelter"),),
)
async def list_resources(request: web.Request) -> web.Response:
    items = await blocking(_svc(request).dispatch.list_resources, request.query.get("kind", ""))
    return json_ok({"items": items})


@routes.post("/resources", roles=EMERGENCY, summary="Add a resource", body=RESOURCE_BODY)
async def create_resource(request: web.Request) -> web.Response:
    data = await body_json(request)
    return json_ok(await blocking(_svc(request).dispatch.create_resource, data), status=201)


@routes.get("/resources/{resource_id}", roles=READ, summary="One resource")
async def get_resource(request: web.Request) -> web.Response:
    return json_ok(await blocking(_svc(request).dispatch.get_resource, _id(request, "resource_id")))


@routes.put("/resources/{resource_id}", roles=EMERGENCY, summary="Change a resource")
async def update_resource(request: web.Request) -> web.Response:
    data = await body_json(request)
    rid = _id(request, "resource_id")
    return json_ok(await blocking(_svc(request).dispatch.update_resource, rid, data))


@routes.delete("/resources/{resource_id}", roles=EMERGENCY, summary="Remove a resource")
async def delete_resource(request: web.Request) -> web.Response:
    await blocking(_svc(request).dispatch.delete_resource, _id(request, "resource_id"))
    return json_ok({"deleted": True})


# --- dispatch --------------------------------------------------------------------------------


@routes.get(
    "/alarms/{alarm_id}/nearest",
    roles=EMERGENCY,
    summary="Resources nearest the alarm's device (great-circle distance)",
    query=(Param("kind", description="team, supply or shelter"), Param("limit", "integer")),
)
async def nearest(request: web.Request) -> web.Response:
    result = await blocking(
        _svc(request).dispatch.nearest,
        _id(request, "alarm_id"),
        request.query.get("kind", ""),
        q_int(request, "limit", 5, 1, 100),
    )
    return json_ok(result)


@routes.post(
    "/alarms/{alarm_id}/assign",
    roles=EMERGENCY,
    summary="Assign an alarm to a response team (dispatch state: assigned)",
    body={
        "type": "object",
        "required": ["team"],
        "properties": {
            "team": {"type": "integer"},
            "by": {"type": "string"},
            "note": {"type": "string"},
        },
    },
)
async def assign(request: web.Request) -> web.Response:
    data = await body_json(request)
    alarm = await blocking(
        _svc(request).dispatch.assign,
        _id(request, "alarm_id"),
        data.get("team"),
        await _who(request, data),
        _note(data),
    )
    return json_ok(alarm)


@routes.post(
    "/alarms/{alarm_id}/dispatch",
    roles=EMERGENCY,
    summary="Move an assignment on: en_route, on_site, resolved",
    body={
        "type": "object",
        "required": ["state"],
        "properties": {
            "state": {"type": "string", "enum": ["en_route", "on_site", "resolved"]},
            "by": {"type": "string"},
            "note": {"type": "string"},
        },
    },
)
async def dispatch_state(request: web.Request) -> web.Response:
    data = await body_json(request)
    alarm = await blocking(
        _svc(request).dispatch.advance,
        _id(request, "alarm_id"),
        data.get("state"),
        await _who(request, data),
        _note(data),
    )
    return json_ok(alarm)
