"""Desired configs per device or group, and staged rollouts."""

from __future__ import annotations

from aiohttp import web

from firmware_configs.schema import parse_runtime_config
from hub.api.routing import ApiRoutes
from hub.api.util import blocking, body_json, hub_of, json_ok
from hub.auth import OPERATE, READ
from hub.errors import ValidationError
from hub.registry import Selector

routes = ApiRoutes("configs")

SELECTOR = {"type": "object"}


@routes.put(
    "/devices/{device_id}/config",
    roles=OPERATE,
    summary="Set the desired config of one device",
    body={"type": "object", "required": ["config"], "properties": {"config": {"type": "object"}}},
)
async def put_config(request: web.Request) -> web.Response:
    hub = hub_of(request)
    device_id = request.match_info["device_id"]
    data = await body_json(request)
    config = data.get("config")
    if not isinstance(config, dict):
        raise ValidationError("field 'config' must be an object")
    parse_runtime_config(config, "config")  # refused here, before any device sees it
    await blocking(hub.registry.get, device_id)
    version = await blocking(hub.configs.set_desired, [device_id], config)
    return json_ok({"device_id": device_id, "version": version}, status=202)


@routes.get("/devices/{device_id}/config", roles=READ, summary="Desired config and its state")
async def get_config(request: web.Request) -> web.Response:
    hub = hub_of(request)
    return json_ok(await blocking(hub.configs.get, request.match_info["device_id"]))


@routes.post(
    "/rollouts",
    roles=OPERATE,
    summary="Roll a config out to a group in stages, halting on failures",
    body={
        "type": "object",
        "required": ["selector", "config"],
        "properties": {
            "selector": SELECTOR,
            "config": {"type": "object"},
            "steps": {"type": "array", "items": {"type": "number"}, "default": [10, 50, 100]},
            "max_failures": {"type": "integer", "default": 0},
        },
    },
)
async def create_rollout(request: web.Request) -> web.Response:
    hub = hub_of(request)
    data = await body_json(request)
    unknown = set(data) - {"selector", "config", "steps", "max_failures"}
    if unknown:
        raise ValidationError(f"unknown field {sorted(unknown)[0]!r}")
    config = data.get("config")
    if not isinstance(config, dict):
        raise ValidationError("field 'config' must be an object")
    parse_runtime_config(config, "config")
    steps = data.get("steps", [10, 50, 100])
    if not isinstance(steps, list) or not all(isinstance(s, int | float) for s in steps):
        raise ValidationError("field 'steps' must be a list of percentages")
    max_failures = data.get("max_failures", 0)
    if not isinstance(max_failures, int) or max_failures < 0:
        raise ValidationError("field 'max_failures' must be a non-negative integer")
    raw_selector = data.get("selector") or {}
    selector = Selector.from_json(raw_selector)
    targets = [d.id for d in await blocking(hub.registry.select, selector)]
    rollout = await blocking(
        hub.configs.start_rollout,
        targets,
        raw_selector,
        config,
        [float(s) for s in steps],
        max_failures,
    )
    return json_ok(rollout, status=201)


@routes.get("/rollouts/{rollout_id}", roles=READ, summary="A rollout with its progress")
async def get_rollout(request: web.Request) -> web.Response:
    hub = hub_of(request)
    return json_ok(await blocking(hub.configs.rollout, request.match_info["rollout_id"]))
