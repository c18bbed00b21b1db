"""The rules and alarms API: rule CRUD, alarm list and detail, acknowledge, clear by hand."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import sqlalchemy as sa
from aiohttp import web

from hub.alarms.engine import AlarmEngine
from hub.alarms.rules import KINDS, SEVERITIES, parse_rule
from hub.api.routing import ApiRoutes, Items, body_of, one_of, optional_body_of, query_of
from hub.api.util import blocking, hub_of, json_ok, row_id
from hub.auth import EMERGENCY, OPERATE, READ, hash_token
from hub.context import ROLE_KEY, ExtensionKey
from hub.db import tokens
from hub.errors import NotFoundError, ValidationError

routes = ApiRoutes("alarms")

ALARM_ENGINE = ExtensionKey("alarm engine", AlarmEngine, "hub.alarms.setup")

RULE_WRITE = OPERATE | EMERGENCY
ACT = OPERATE | EMERGENCY

Seconds = Annotated[float, msgspec.Meta(ge=0)]


class RuleIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A rule definition; which keys a kind takes, and their ranges, are checked by
    :func:`hub.alarms.rules.parse_rule`, whose 400 names the key."""

    kind: Annotated[str, one_of(KINDS)]
    id: str | msgspec.UnsetType = msgspec.UNSET
    name: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    scope: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    metric: str | msgspec.UnsetType = msgspec.UNSET
    direction: Annotated[str, one_of(("above", "below"))] | msgspec.UnsetType = msgspec.UNSET
    levels: list[dict[str, Any]] | msgspec.UnsetType = msgspec.UNSET
    severity: Annotated[str, one_of(SEVERITIES)] | msgspec.UnsetType = msgspec.UNSET
    for_s: Seconds | msgspec.UnsetType = msgspec.UNSET
    window_s: Seconds | msgspec.UnsetType = msgspec.UNSET
    per_s: Seconds | msgspec.UnsetType = msgspec.UNSET
    silent_s: Seconds | msgspec.UnsetType = msgspec.UNSET
    tolerance: Seconds | msgspec.UnsetType = msgspec.UNSET
    conditions: list[dict[str, Any]] | msgspec.UnsetType = msgspec.UNSET
    update_step: float | msgspec.UnsetType = msgspec.UNSET
    update_interval_s: Seconds | msgspec.UnsetType = msgspec.UNSET


class NoteIn(msgspec.Struct, forbid_unknown_fields=True):
    """An operator's note on an alarm action (optional, kept in the alarm's history)."""

    note: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class AlarmPage(msgspec.Struct):
    """One page of alarms and the count of all that matched the query."""

    total: int
    items: list[dict[str, Any]]


class AlarmQuery(msgspec.Struct, forbid_unknown_fields=True):
    """Filters of the alarm list; empty fields match everything."""

    state: Annotated[str, one_of(("", "active", "cleared"), "active or cleared")] = ""
    severity: Annotated[
        str, msgspec.Meta(description="one severity or several, comma-separated")
    ] = ""
    device: str = ""
    site: str = ""
    rule: str = ""
    acknowledged: bool | None = None
    offset: Annotated[int, msgspec.Meta(ge=0, le=10**9)] = 0
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100


def engine_of(request: web.Request) -> AlarmEngine:
    """The alarm engine this hub's alarms extension installed."""
    engine = hub_of(request).extensions[ALARM_ENGINE]
    return engine


def _alarm_id(request: web.Request) -> int:
    return row_id(request.match_info["alarm_id"], "alarm")


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


def _note(request: web.Request) -> str:
    body = optional_body_of(request, NoteIn)
    return body.note if body else ""


# rules ------------------------------------------------------------------------------------


@routes.get("/rules", roles=READ, summary="Every rule, with its definition", response=Items)
async def list_rules(request: web.Request) -> web.Response:
    """List every rule, enabled or not, with its stored definition."""
    rows = await blocking(engine_of(request).store.rule_rows)
    items = [{"id": r["id"], "enabled": r["enabled"], **r["definition"]} for r in rows]
    return json_ok({"items": items})


@routes.get("/rules/{rule_id}", roles=READ, summary="One rule")
async def get_rule(request: web.Request) -> web.Response:
    """One rule by id, or a 404."""
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
    body=RuleIn,
    status=(200, 201),
)
async def put_rule(request: web.Request) -> web.Response:
    """Create or replace a rule: checked first, then stored and the engine reloaded at once."""
    engine = engine_of(request)
    definition = msgspec.to_builtins(body_of(request, RuleIn))
    rule = parse_rule(definition, request.match_info["rule_id"])
    created = await blocking(engine.store.put_rule, rule.id, rule.definition, rule.enabled)
    await blocking(engine.reload)
    return json_ok(rule.as_dict(), status=201 if created else 200)


@routes.delete(
    "/rules/{rule_id}",
    roles=RULE_WRITE,
    summary="Delete a rule; its active alarms are cleared",
)
async def delete_rule(request: web.Request) -> web.Response:
    """Delete a rule and reload the engine so it stops evaluating it."""
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
    query=AlarmQuery,
    response=AlarmPage,
)
async def list_alarms(request: web.Request) -> web.Response:
    """List alarms by state, severity, device and site."""
    q = query_of(request, AlarmQuery)
    severities = [s for s in q.severity.split(",") if s]
    for s in severities:
        if s not in SEVERITIES:
            raise ValidationError(
                f"query parameter 'severity': {s!r} is not one of {', '.join(SEVERITIES)}",
                "severity",
            )
    items, total = await blocking(
        engine_of(request).store.search,
        state=q.state,
        severities=severities,
        device=q.device,
        site=q.site,
        rule=q.rule,
        acknowledged=q.acknowledged,
        offset=q.offset,
        limit=q.limit,
    )
    return json_ok({"total": total, "items": items})


@routes.get(
    "/alarms/{alarm_id}",
    roles=READ,
    summary="One alarm and its history (every event, oldest first)",
)
async def get_alarm(request: web.Request) -> web.Response:
    """One alarm, or a 404."""
    return json_ok(await blocking(engine_of(request).store.get, _alarm_id(request)))


def _person_acts(verb: str, action: str, summary: str) -> None:
    """POST /alarms/{id}/<verb>: the store's ``action`` by the caller, with an optional note."""

    async def act(request: web.Request) -> web.Response:
        alarm_id = _alarm_id(request)
        note = _note(request)
        who = await blocking(_who, request)
        store = engine_of(request).store
        return json_ok(await blocking(getattr(store, action), alarm_id, who, note))

    act.__name__ = f"{verb}_alarm"
    routes.post(
        f"/alarms/{{alarm_id}}/{verb}", roles=ACT, summary=summary, body=NoteIn, body_required=False
    )(act)


_person_acts(
    "ack", "acknowledge", "Acknowledge an alarm (who and when are recorded, with an optional note)"
)
_person_acts(
    "clear",
    "clear_by_hand",
    "Clear an alarm by hand; it is not raised again until its condition has ended",
)
