"""The rules and alarms API: rule CRUD, alarm list and detail, acknowledge, clear by hand."""

from __future__ import annotations

import sqlalchemy as sa
from aiohttp import web

from hub.alarms.engine import AlarmEngine
from hub.alarms.rules import KINDS, SEVERITIES, parse_rule
from hub.api.routing import ApiRoutes, Param
from hub.api.util import blocking, body_json, hub_of, json_ok, q_bool, q_int
from hub.auth import EMERGENCY, OPERATE, READ, hash_token
from hub.context import ROLE_KEY
from hub.db import tokens
from hub.errors import NotFoundError, ValidationError

routes = ApiRoutes("alarms")

ENGINE_KEY = "alarm_engine"
"""``hub.extras[ENGINE_KEY]``: the :class:`AlarmEngine` of this hub worker."""

RULE_WRITE = OPERATE | EMERGENCY
ACT = OPERATE | EMERGENCY

RULE_BODY = {
    "type": "object",
    "required": ["kind"],
    "properties": {
        "kind": {"type": "string", "enum": list(KINDS)},
        "name": {"type": "string"},
        "description": {"type": "string"},
        "enabled": {"type": "boolean"},
        "scope": {"type": "object"},
        "metric": {"type": "string"},
        "direction": {"type": "string", "enum": ["above", "below"]},
        "levels": {"type": "array", "items": {"type": "object"}},
        "severity": {"type": "string", "enum": list(SEVERITIES)},
        "for_s": {"type": "number"},
        "window_s": {"type": "number"},
        "per_s": {"type": "number"},
        "silent_s": {"type": "number"},
        "conditions": {"type": "array", "items": {"type": "object"}},
        "update_step": {"type": "number"},
        "update_interval_s": {"type": "number"},
    },
}

NOTE_BODY = {"type": "object", "properties": {"note": {"type": "string"}}}


def engine_of(request: web.Request) -> AlarmEngine:
    engine: AlarmEngine = hub_of(request).extras[ENGINE_KEY]
    return engine


def _alarm_id(request: web.Request) -> int:
    raw = request.match_info["alarm_id"]
    if not raw.isdigit():
        raise NotFoundError(f"no alarm {raw!r}")
    return int(raw)


def _who(request: web.Request) -> str:
    """The acting token's name (or its role): who acknowledged or cleared."""
    header = request.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else request.query.get("access_token", "")
    role = request.get(ROLE_KEY, "")
    with hub_of(request).engine.connect() as conn:
        name = conn.execute(
            sa.select(tokens.c.name).where(tokens.c.token_hash == hash_token(token))
        ).scalar()
    return str(name or role)[:64]


async def _note(request: web.Request) -> str:
    if not request.can_read_body:
        return ""
    data = await body_json(request)
    unknown = set(data) - {"note"}
    if unknown:
        raise ValidationError(f"unknown field {sorted(unknown)[0]!r}")
    note = data.get("note", "")
    if not isinstance(note, str) or len(note) > 2000:
        raise ValidationError("field 'note' must be a string of at most 2000 characters")
    return note


# rules ------------------------------------------------------------------------------------


@routes.get("/rules", roles=READ, summary="Every rule, with its definition")
async def list_rules(request: web.Request) -> web.Response:
    rows = await blocking(engine_of(request).store.rule_rows)
    items = [{"id": r["id"], "enabled": r["enabled"], **r["definition"]} for r in rows]
    return json_ok({"items": items})


@routes.get("/rules/{rule_id}", roles=READ, summary="One rule", responses={"404": "no such rule"})
async def get_rule(request: web.Request) -> web.Response:
    rule_id = request.match_info["rule_id"]
    rows = await blocking(engine_of(request).store.rule_rows)
    for r in rows:
        if r["id"] == rule_id:
            return json_ok({"id": r["id"], "enabled": r["enabled"], **r["definition"]})
    raise NotFoundError(f"no rule {rule_id!r}")


@routes.put(
    "/rules/{rule_id}",
    roles=RULE_WRITE,
    summary="Create or replace a rule (400 names the bad key)",
    body=RULE_BODY,
    responses={"201": "created", "400": "invalid rule"},
)
async def put_rule(request: web.Request) -> web.Response:
    engine = engine_of(request)
    rule = parse_rule(await body_json(request), request.match_info["rule_id"])
    created = await blocking(engine.store.put_rule, rule.id, rule.definition, rule.enabled)
    await blocking(engine.reload)
    return json_ok(rule.as_dict(), status=201 if created else 200)


@routes.delete(
    "/rules/{rule_id}",
    roles=RULE_WRITE,
    summary="Delete a rule; its active alarms are cleared",
    responses={"404": "no such rule"},
)
async def delete_rule(request: web.Request) -> web.Response:
    engine = engine_of(request)
    rule_id = request.match_info["rule_id"]
    if not await blocking(engine.store.delete_rule, rule_id):
        raise NotFoundError(f"no rule {rule_id!r}")
    await blocking(engine.reload)
    return json_ok({"deleted": rule_id})


# alarms -----------------------------------------------------------------------------------


@routes.get(
    "/alarms",
    roles=READ,
    summary="Alarms, newest first, filtered and paged",
    query=(
        Param("state", description="active or cleared"),
        Param("severity", description="one severity or several, comma-separated"),
        Param("device"),
        Param("site"),
        Param("rule"),
        Param("acknowledged", "boolean"),
        Param("offset", "integer"),
        Param("limit", "integer", "1..1000, default 100"),
    ),
)
async def list_alarms(request: web.Request) -> web.Response:
    state = request.query.get("state", "")
    if state not in ("", "active", "cleared"):
        raise ValidationError("query parameter 'state' must be active or cleared")
    severities = [s for s in request.query.get("severity", "").split(",") if s]
    for s in severities:
        if s not in SEVERITIES:
            raise ValidationError(
                f"query parameter 'severity': {s!r} is not one of {', '.join(SEVERITIES)}"
            )
    items, total = await blocking(
        engine_of(request).store.search,
        state=state,
        severities=severities,
        device=request.query.get("device", ""),
        site=request.query.get("site", ""),
        rule=request.query.get("rule", ""),
        acknowledged=q_bool(request, "acknowledged"),
        offset=q_int(request, "offset", 0, 0, 10**9),
        limit=q_int(request, "limit", 100, 1, 1000),
    )
    return json_ok({"total": total, "items": items})


@routes.get(
    "/alarms/{alarm_id}",
    roles=READ,
    summary="One alarm and its history (every event, oldest first)",
    responses={"404": "no such alarm"},
)
async def get_alarm(request: web.Request) -> web.Response:
    return json_ok(await blocking(engine_of(request).store.get, _alarm_id(request)))


@routes.post(
    "/alarms/{alarm_id}/ack",
    roles=ACT,
    summary="Acknowledge an alarm (who and when are recorded, with an optional note)",
    body=NOTE_BODY,
    responses={"404": "no such alarm", "400": "already acknowledged"},
)
async def ack_alarm(request: web.Request) -> web.Response:
    alarm_id = _alarm_id(request)
    note = await _note(request)
    who = await blocking(_who, request)
    alarm = await blocking(engine_of(request).store.acknowledge, alarm_id, who, note)
    return json_ok(alarm)


@routes.post(
    "/alarms/{alarm_id}/clear",
    roles=ACT,
    summary="Clear an alarm by hand; it is not raised again until its condition has ended",
    body=NOTE_BODY,
    responses={"404": "no such alarm", "400": "already cleared"},
)
async def clear_alarm(request: web.Request) -> web.Response:
    alarm_id = _alarm_id(request)
    note = await _note(request)
    who = await blocking(_who, request)
    alarm = await blocking(engine_of(request).store.clear_by_hand, alarm_id, who, note)
    return json_ok(alarm)
