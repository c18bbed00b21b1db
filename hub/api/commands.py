"""Commands to one device or a selector, and their state per device."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from aiohttp import web

from hub.api.routing import ApiRoutes, body_of, query_of
from hub.api.util import blocking, hub_of, json_ok
from hub.auth import OPERATE, READ
from hub.registry import Selector

routes = ApiRoutes("commands")

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class SelectorIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Which devices: every one named in ``ids`` and matching ``model``, ``site`` and ``labels``
    (at least one of them)."""

    ids: list[Annotated[str, msgspec.Meta(max_length=128)]] = []
    model: str = ""
    site: str = ""
    labels: dict[str, str] = {}

    def selector(self) -> Selector:
        """The registry's Selector; ValidationError when no field is set (it would name every
        device)."""
        return Selector.from_json(msgspec.to_builtins(self))


class CommandIn(msgspec.Struct, forbid_unknown_fields=True):
    """A command to send to the devices a selector picks."""

    name: Name
    selector: SelectorIn
    args: dict[str, Any] = {}
    ttl_s: Annotated[float, msgspec.Meta(gt=0, le=30 * 86400)] = 300


class CommandBatch(msgspec.Struct):
    """The batch id and the id of each command it sent (one per selected device)."""

    batch: str
    commands: list[str]


class CommandQuery(msgspec.Struct, forbid_unknown_fields=True):
    """Filters of the command list."""

    device_id: str = ""
    batch: str = ""
    state: str = ""
    limit: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 100


class CommandList(msgspec.Struct):
    """Commands found, with the per-state counts of their batch when one was asked for."""

    items: list[dict[str, Any]]
    summary: dict[str, int] | None


@routes.post(
    "/commands",
    roles=OPERATE,
    summary="Send a command to the devices a selector names",
    body=CommandIn,
    response=CommandBatch,
    status=201,
)
async def create_command(request: web.Request) -> web.Response:
    """Send a command to every device the selector picks, as one batch."""
    hub = hub_of(request)
    cmd = body_of(request, CommandIn)
    targets = [d.id for d in await blocking(hub.registry.select, cmd.selector.selector())]
    result = await blocking(hub.commands.create, targets, cmd.name, cmd.args, cmd.ttl_s)
    return json_ok(result, status=201)


@routes.get(
    "/commands",
    roles=READ,
    summary="Commands, newest first",
    query=CommandQuery,
    response=CommandList,
)
async def list_commands(request: web.Request) -> web.Response:
    """Search commands by device, batch and state."""
    hub = hub_of(request)
    q = query_of(request, CommandQuery)
    items = await blocking(
        hub.commands.search, device_id=q.device_id, batch=q.batch, state=q.state, limit=q.limit
    )
    summary = await blocking(hub.commands.batch_summary, q.batch) if q.batch else None
    return json_ok({"items": items, "summary": summary})


@routes.get(
    "/commands/{command_id}",
    roles=READ,
    summary="One command and its state",
    response=dict[str, Any],
)
async def get_command(request: web.Request) -> web.Response:
    """One command and its state, or a 404."""
    hub = hub_of(request)
    return json_ok(await blocking(hub.commands.get, request.match_info["command_id"]))
