"""The emergency center's REST routes and the WebSocket feed, under /api/v1."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
import sqlalchemy as sa
from aiohttp import web

from hub.alarms.rules import SEVERITIES
from hub.api.devices import LimitQuery, Location
from hub.api.routing import ApiRoutes, Items, body_of, one_of, query_of
from hub.api.util import MAX_ROW_ID, blocking, json_ok, row_id
from hub.auth import EMERGENCY, READ, hash_token
from hub.context import HUB_KEY, ROLE_KEY, ExtensionKey
from hub.db import tokens
from hub.emergency.dispatch import KINDS as RESOURCE_KINDS
from hub.emergency.dispatch import STATES, DispatchService
from hub.emergency.feed import FeedNotifier, serve_feed, settled_cursor
from hub.emergency.webhooks import WebhookService


@dataclass
class Emergency:
    """The emergency services of one hub worker."""

    dispatch: DispatchService
    webhooks: WebhookService
    notifier: FeedNotifier
    gap_wait_s: float = 1.0


EMERGENCY_SERVICE = ExtensionKey("emergency service", Emergency, "hub.emergency.setup")

routes = ApiRoutes("emergency")

Text = Annotated[str, msgspec.Meta(max_length=2000)]
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_ROW_ID)]
Severity = Annotated[str, one_of(SEVERITIES)]
Url = Annotated[str, msgspec.Meta(max_length=1000, description="http:// or https://")]
Secret = Annotated[str, msgspec.Meta(min_length=16, max_length=200)]


class WebhookIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A new webhook subscription; from_cursor replays the events after it."""

    url: Url
    secret: Secret
    severities: list[Severity] | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    from_cursor: Count | msgspec.UnsetType = msgspec.UNSET


class WebhookChange(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Changes to a webhook subscription; fields left out stay as they are."""

    url: Url | msgspec.UnsetType = msgspec.UNSET
    secret: Secret | msgspec.UnsetType = msgspec.UNSET
    severities: list[Severity] | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET


Kind = Annotated[str, one_of(RESOURCE_KINDS, "team, supply or shelter")]


class ResourceChange(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Changes to a resource; fields left out stay as they are."""

    kind: Kind | msgspec.UnsetType = msgspec.UNSET
    name: Annotated[str, msgspec.Meta(max_length=200, pattern=r"\S")] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    location: Location | msgspec.UnsetType = msgspec.UNSET
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)] | msgspec.UnsetType = msgspec.UNSET
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)] | msgspec.UnsetType = msgspec.UNSET
    capacity: Count | msgspec.UnsetType = msgspec.UNSET
    available: Count | msgspec.UnsetType = msgspec.UNSET
    unit: Annotated[str, msgspec.Meta(max_length=32)] | msgspec.UnsetType = msgspec.UNSET
    contact: Annotated[str, msgspec.Meta(max_length=200)] | msgspec.UnsetType = msgspec.UNSET
    notes: Text | msgspec.UnsetType = msgspec.UNSET


class ResourceIn(ResourceChange, forbid_unknown_fields=True, omit_defaults=True):
    """A new resource: ``kind``, ``name`` and a place (``location``, or ``lat`` and ``lon``) are
    required (:func:`hub.emergency.dispatch.check_resource`)."""


class Act(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Who acts (a person at a shared desk; default: the token's name) and an optional note."""

    by: Annotated[str, msgspec.Meta(max_length=64)] = ""
    note: Text = ""


class AssignIn(Act, forbid_unknown_fields=True, kw_only=True):
    """Assign a team (a resource) to an alarm."""

    team: Annotated[int, msgspec.Meta(ge=1, le=MAX_ROW_ID, description="a team's resource id")]


class DispatchIn(Act, forbid_unknown_fields=True, kw_only=True):
    """Move an alarm's dispatch on: en route, on site, resolved."""

    state: Annotated[str, one_of(STATES[1:], "en_route, on_site or resolved")]


class FeedQuery(msgspec.Struct, forbid_unknown_fields=True):
    """Where a feed client starts: after a cursor, from the start (0) or from now (latest)."""

    cursor: Annotated[
        str,
        msgspec.Meta(
            pattern="^(latest|[0-9]{1,18})?$",
            description="last cursor seen; 0 replays everything, 'latest' skips",
        ),
    ] = ""


class KindQuery(msgspec.Struct, forbid_unknown_fields=True):
    """Filter by resource kind."""

    kind: Kind | None = None


class NearestQuery(KindQuery, forbid_unknown_fields=True):
    """The kind of resource and how many of the nearest to return."""

    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 5


class DeliveryQuery(LimitQuery, forbid_unknown_fields=True):
    """Filter deliveries by state."""

    state: Annotated[str, one_of(("pending", "delivered", "dead"))] | None = None


class Resource(msgspec.Struct):
    """A resource as shown: where it is, its capacity and how much of it is free."""

    id: int
    kind: str
    name: str
    location: Location
    capacity: int
    available: int
    unit: str
    contact: str
    notes: str
    updated: float


class Resources(msgspec.Struct):
    """The resources."""

    items: list[Resource]


class Webhook(msgspec.Struct):
    """A subscription as shown (its secret never is)."""

    id: int
    url: str
    severities: list[str]
    enabled: bool
    cursor: int
    created: float


class Webhooks(msgspec.Struct):
    """The webhook subscriptions."""

    items: list[Webhook]


class Snapshot(msgspec.Struct):
    """The dispatch board and the cursor a feed client goes on from."""

    cursor: int
    items: list[dict[str, Any]]


class Deleted(msgspec.Struct):
    """Whether the item was deleted."""

    deleted: bool


def _svc(request: web.Request) -> Emergency:
    return request.app[HUB_KEY].extensions[EMERGENCY_SERVICE]


def _id(request: web.Request, name: str) -> int:
    return row_id(request.match_info[name], name.removesuffix("_id"))


def _token_name(request: web.Request) -> str:
    """The acting token's name, or its role."""
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else request.query.get("access_token", "")
    with request.app[HUB_KEY].engine.connect() as conn:
        name = conn.execute(
            sa.select(tokens.c.name).where(tokens.c.token_hash == hash_token(token))
        ).scalar()
    return str(name or request.get(ROLE_KEY, ""))[:64]


async def _who(request: web.Request, act: Act) -> str:
    """Who acts: the body's ``by`` (a person at a shared desk), else the token's name."""
    return act.by or await blocking(_token_name, request)


# --- feed ------------------------------------------------------------------------------------


@routes.get(
    "/feed",
    roles=EMERGENCY,
    summary="WebSocket: alarm events after ?cursor=N (replay, then live); each carries its cursor",
    query=FeedQuery,
)
async def feed(request: web.Request) -> web.StreamResponse:
    """Serve the alarm feed over a WebSocket, from the client's cursor on."""
    svc = _svc(request)
    return await serve_feed(request, svc.dispatch.engine, svc.notifier, svc.gap_wait_s)


@routes.get(
    "/feed/snapshot",
    roles=EMERGENCY,
    summary="Alarms in hand (active or dispatched) and the cursor to stream from after them",
    response=Snapshot,
)
async def snapshot(request: web.Request) -> web.Response:
    """The dispatch board and the cursor it is current at, so a client misses no later event."""
    svc = _svc(request)
    # Settled first, then the board: every event up to the cursor is in what the board shows.
    cursor = await blocking(settled_cursor, svc.dispatch.engine)
    items = await blocking(svc.dispatch.board)
    return json_ok({"cursor": cursor, "items": items})


# --- webhooks --------------------------------------------------------------------------------


@routes.get(
    "/webhooks/dead-letters",
    roles=EMERGENCY,
    summary="Deliveries that failed every attempt",
    query=LimitQuery,
    response=Items,
)
async def dead_letters(request: web.Request) -> web.Response:
    """Deliveries that ran out of retries."""
    limit = query_of(request, LimitQuery).limit
    items = await blocking(_svc(request).webhooks.deliveries, "dead", None, limit)
    return json_ok({"items": items})


@routes.post(
    "/webhooks/dead-letters/{delivery_id}/retry",
    roles=EMERGENCY,
    summary="Queue a dead letter again, with its attempts reset",
)
async def retry_dead_letter(request: web.Request) -> web.Response:
    """Queue a dead delivery again."""
    item = await blocking(_svc(request).webhooks.retry, _id(request, "delivery_id"))
    return json_ok(item)


@routes.get("/webhooks", roles=EMERGENCY, summary="Webhook subscriptions", response=Webhooks)
async def list_webhooks(request: web.Request) -> web.Response:
    """List the webhook subscriptions (without their secrets)."""
    return json_ok({"items": await blocking(_svc(request).webhooks.all)})


@routes.post(
    "/webhooks",
    roles=EMERGENCY,
    summary="Subscribe a URL to alarm events (HMAC-SHA256 signed, optional severity filter)",
    body=WebhookIn,
    response=Webhook,
    status=201,
)
async def create_webhook(request: web.Request) -> web.Response:
    """Subscribe a webhook to the alarm events."""
    data = msgspec.to_builtins(body_of(request, WebhookIn))
    return json_ok(await blocking(_svc(request).webhooks.create, data), status=201)


@routes.get(
    "/webhooks/{webhook_id}", roles=EMERGENCY, summary="One webhook subscription", response=Webhook
)
async def get_webhook(request: web.Request) -> web.Response:
    """One webhook subscription, or a 404."""
    return json_ok(await blocking(_svc(request).webhooks.get, _id(request, "webhook_id")))


@routes.put(
    "/webhooks/{webhook_id}",
    roles=EMERGENCY,
    summary="Change a webhook subscription",
    body=WebhookChange,
    response=Webhook,
)
async def update_webhook(request: web.Request) -> web.Response:
    """Change a webhook subscription."""
    data = msgspec.to_builtins(body_of(request, WebhookChange))
    hook_id = _id(request, "webhook_id")
    return json_ok(await blocking(_svc(request).webhooks.update, hook_id, data))


@routes.delete(
    "/webhooks/{webhook_id}",
    roles=EMERGENCY,
    summary="Remove a subscription and its deliveries",
    response=Deleted,
)
async def delete_webhook(request: web.Request) -> web.Response:
    """Delete a webhook subscription."""
    await blocking(_svc(request).webhooks.delete, _id(request, "webhook_id"))
    return json_ok({"deleted": True})


@routes.get(
    "/webhooks/{webhook_id}/deliveries",
    roles=EMERGENCY,
    summary="A subscription's deliveries, newest first",
    query=DeliveryQuery,
    response=Items,
)
async def webhook_deliveries(request: web.Request) -> web.Response:
    """A webhook's deliveries, by state."""
    q = query_of(request, DeliveryQuery)
    items = await blocking(
        _svc(request).webhooks.deliveries, q.state, _id(request, "webhook_id"), q.limit
    )
    return json_ok({"items": items})


# --- resources -------------------------------------------------------------------------------


@routes.get(
    "/resources",
    roles=READ,
    summary="Response teams, supplies and shelters",
    query=KindQuery,
    response=Resources,
)
async def list_resources(request: web.Request) -> web.Response:
    """List the resources, of one kind or all."""
    kind = query_of(request, KindQuery).kind or ""
    items = await blocking(_svc(request).dispatch.list_resources, kind)
    return json_ok({"items": items})


@routes.post("/resources", roles=EMERGENCY, summary="Add a resource", body=ResourceIn, status=201)
async def create_resource(request: web.Request) -> web.Response:
    """Add a resource."""
    data = msgspec.to_builtins(body_of(request, ResourceIn))
    return json_ok(await blocking(_svc(request).dispatch.create_resource, data), status=201)


@routes.get("/resources/{resource_id}", roles=READ, summary="One resource", response=Resource)
async def get_resource(request: web.Request) -> web.Response:
    """One resource, or a 404."""
    return json_ok(await blocking(_svc(request).dispatch.get_resource, _id(request, "resource_id")))


@routes.put(
    "/resources/{resource_id}",
    roles=EMERGENCY,
    summary="Change a resource",
    body=ResourceChange,
    response=Resource,
)
async def update_resource(request: web.Request) -> web.Response:
    """Change a resource."""
    data = msgspec.to_builtins(body_of(request, ResourceChange))
    rid = _id(request, "resource_id")
    return json_ok(await blocking(_svc(request).dispatch.update_resource, rid, data))


@routes.delete(
    "/resources/{resource_id}", roles=EMERGENCY, summary="Remove a resource", response=Deleted
)
async def delete_resource(request: web.Request) -> web.Response:
    """Delete a resource."""
    await blocking(_svc(request).dispatch.delete_resource, _id(request, "resource_id"))
    return json_ok({"deleted": True})


# --- dispatch --------------------------------------------------------------------------------


@routes.get(
    "/alarms/{alarm_id}/nearest",
    roles=EMERGENCY,
    summary="Resources nearest the alarm's device (great-circle distance)",
    query=NearestQuery,
)
async def nearest(request: web.Request) -> web.Response:
    """The resources nearest to an alarm's place, nearest first."""
    q = query_of(request, NearestQuery)
    result = await blocking(
        _svc(request).dispatch.nearest, _id(request, "alarm_id"), q.kind or "", q.limit
    )
    return json_ok(result)


@routes.post(
    "/alarms/{alarm_id}/assign",
    roles=EMERGENCY,
    summary="Assign an alarm to a response team (dispatch state: assigned)",
    body=AssignIn,
)
async def assign(request: web.Request) -> web.Response:
    """Assign a team to an alarm, recorded with who did it."""
    body = body_of(request, AssignIn)
    alarm = await blocking(
        _svc(request).dispatch.assign,
        _id(request, "alarm_id"),
        body.team,
        await _who(request, body),
        body.note,
    )
    return json_ok(alarm)


@routes.post(
    "/alarms/{alarm_id}/dispatch",
    roles=EMERGENCY,
    summary="Move an assignment on: en_route, on_site, resolved",
    body=DispatchIn,
)
async def dispatch_state(request: web.Request) -> web.Response:
    """Move an alarm's dispatch on, recorded with who did it."""
    body = body_of(request, DispatchIn)
    alarm = await blocking(
        _svc(request).dispatch.advance,
        _id(request, "alarm_id"),
        body.state,
        await _who(request, body),
        body.note,
    )
    return json_ok(alarm)
