"""Desired configs per device or group, and staged rollouts."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from aiohttp import web

from firmware_configs.crosscheck import InvalidConfig
from firmware_configs.validate import check_runtime_config
from hub.api.commands import SelectorIn
from hub.api.routing import ApiRoutes, body_of
from hub.api.util import blocking, hub_of, json_ok
from hub.auth import OPERATE, READ
from hub.errors import ValidationError

routes = ApiRoutes("configs")


def _check(config: dict[str, Any]) -> None:
    """A 400 naming the JSON path in the body unless every device can take ``config``."""
    try:
        check_runtime_config(config, "config")
    except InvalidConfig as exc:
        raise ValidationError(str(exc), "$.config" + exc.path.removeprefix("$")) from None


class ConfigIn(msgspec.Struct, forbid_unknown_fields=True):
    """The runtime config to set on a device."""

    config: Annotated[dict[str, Any], msgspec.Meta(description="the runtime part of a config")]


class ConfigSet(msgspec.Struct):
    """The version a device's new desired config got."""

    device_id: str
    version: int


class RolloutIn(msgspec.Struct, forbid_unknown_fields=True):
    """A config to roll out over the selected devices in steps, with a failure limit."""

    selector: SelectorIn
    config: dict[str, Any]
    steps: list[Annotated[float, msgspec.Meta(gt=0, le=100)]] = msgspec.field(
        default_factory=lambda: [10.0, 50.0, 100.0]
    )
    max_failures: Annotated[int, msgspec.Meta(ge=0)] = 0


@routes.put(
    "/devices/{device_id}/config",
    roles=OPERATE,
    summary="Set the desired config of one device",
    body=ConfigIn,
    response=ConfigSet,
    status=202,
)
async def put_config(request: web.Request) -> web.Response:
    """Set one device's desired config; it is checked before any device sees it."""
    hub = hub_of(request)
    device_id = request.match_info["device_id"]
    config = body_of(request, ConfigIn).config
    _check(config)  # refused here, before any device sees it
    await blocking(hub.registry.get, device_id)
    version = await blocking(hub.device_configs.set_desired, [device_id], config)
    return json_ok({"device_id": device_id, "version": version}, status=202)


@routes.get("/devices/{device_id}/config", roles=READ, summary="Desired config and its state")
async def get_config(request: web.Request) -> web.Response:
    """One device's desired config."""
    hub = hub_of(request)
    return json_ok(await blocking(hub.device_configs.get, request.match_info["device_id"]))


@routes.post(
    "/rollouts",
    roles=OPERATE,
    summary="Roll a config out to a group in stages, halting on failures",
    body=RolloutIn,
    status=201,
)
async def create_rollout(request: web.Request) -> web.Response:
    """Start a staged rollout of a config over the selected devices."""
    hub = hub_of(request)
    body = body_of(request, RolloutIn)
    _check(body.config)
    targets = [d.id for d in await blocking(hub.registry.select, body.selector.selector())]
    rollout = await blocking(
        hub.device_configs.start_rollout,
        targets,
        msgspec.to_builtins(body.selector),
        body.config,
        body.steps,
        body.max_failures,
    )
    return json_ok(rollout, status=201)


@routes.get("/rollouts/{rollout_id}", roles=READ, summary="A rollout with its progress")
async def get_rollout(request: web.Request) -> web.Response:
    """One rollout and its progress, or a 404."""
    hub = hub_of(request)
    return json_ok(await blocking(hub.device_configs.rollout, request.match_info["rollout_id"]))
