"""Route tables that carry their own roles, typed inputs and outputs, and OpenAPI description.

A handler is declared once: method, path, roles, summary, a msgspec Struct for its query
parameters, one for its body, and the type of what it answers. The same declaration registers the
aiohttp route, is checked by the auth middleware, validates every request before the handler runs
(a 400 naming the JSON path or the parameter) and produces the OpenAPI document, so none of them
can drift apart. The handler reads what was validated with :func:`query_of` and :func:`body_of`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from hub.api.util import MAX_BODY, ErrorBody
from hub.errors import TooLargeError, ValidationError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
S = TypeVar("S")

API_PREFIX = "/api/v1"
ROLES_ATTR = "govedge_roles"
TOKEN_PARAM = "access_token"  # noqa: S105 - a parameter name, not a secret
"""The query parameter that may carry the bearer token (browsers cannot set WebSocket headers);
every route accepts it, and the OpenAPI document declares it as a security scheme."""

NUL_REFUSED = "text may not contain NUL (U+0000) characters"
"""No database of the hub stores them in text (PostgreSQL refuses them): refused on the way in."""

INSTALLED_GROUPS: web.AppKey[list[ApiRoutes]] = web.AppKey("govedge_api_groups", list)
"""Every route group installed on the application, in order: the OpenAPI document lists them."""
QUERY_KEY = web.RequestKey("govedge_query", object)
BODY_KEY = web.RequestKey("govedge_body", object)

ERROR_TEXTS: dict[int, str] = {
    400: "invalid query parameter or body; 'path' names it",
    401: "no or unknown token",
    403: "role not allowed",
    404: "not found",
}


def one_of(values: Iterable[str], description: str | None = None) -> msgspec.Meta:
    """The constraint of a string that is one of ``values`` (declared once, where the values
    live): ``Annotated[str, one_of(KINDS)]``."""
    pattern = "^(" + "|".join(re.escape(v) for v in values) + ")$"
    return msgspec.Meta(pattern=pattern, description=description)


class Items(msgspec.Struct):
    """A list answer: ``{"items": [...]}``."""

    items: list[dict[str, Any]]


class NoQuery(msgspec.Struct, forbid_unknown_fields=True):
    """The query of a route that takes no parameters: any parameter is refused."""


@dataclass(slots=True)
class RouteSpec:
    """A route as declared: path, handler, roles and the types that document it."""

    method: str
    path: str  # below /api/v1
    handler: Handler
    roles: frozenset[str]
    summary: str
    query: type[Any] = NoQuery
    body: type[Any] | None = None
    body_required: bool = True
    response: Any = dict[str, Any]
    status: tuple[int, ...] = (200,)
    errors: dict[int, str] = field(default_factory=dict)
    tag: str = ""


def _at(exc: msgspec.ValidationError) -> str:
    """The JSON path a msgspec validation error names ("$" for the whole document)."""
    text = str(exc)
    where = re.search(r" - at `(\$[^`]*)`$", text)
    path = where.group(1) if where else "$"
    named = re.match(r"Object (?:contains unknown|missing required) field `([^`]*)`", text)
    if named:
        path += "." + named.group(1)
    return path


def decode_query(request: web.Request, struct: type[S]) -> S:
    """The request's query parameters as ``struct``: unknown, repeated or ill-typed ones are
    refused with a 400 naming the parameter."""
    params: dict[str, str] = {}
    for name, value in request.query.items():
        if name == TOKEN_PARAM:
            continue
        if "\x00" in name or "\x00" in value:
            raise ValidationError(f"query parameter {name!r}: {NUL_REFUSED}", name)
        if name in params:
            raise ValidationError(f"query parameter {name!r} is given twice", name)
        params[name] = value
    try:
        return msgspec.convert(params, struct, strict=False)
    except msgspec.ValidationError as exc:
        name = _at(exc).removeprefix("$.")
        if str(exc).startswith("Object contains unknown field"):
            raise ValidationError(f"unknown query parameter {name!r}", name) from None
        raise ValidationError(f"query parameter {name!r}: {exc}", name) from None


async def decode_body(request: web.Request, struct: type[S], required: bool = True) -> S | None:
    """The JSON body as ``struct`` (None when optional and absent); a 400 names the JSON path."""
    if request.content_length and request.content_length > MAX_BODY:
        raise TooLargeError(f"body is {request.content_length} bytes, the limit is {MAX_BODY}")
    raw = await request.read()
    if b"\\u0000" in raw:
        raise ValidationError(NUL_REFUSED, "$")
    if not raw.strip():
        if required:
            raise ValidationError("a JSON body is required", "$")
        return None
    try:
        try:
            return msgspec.json.decode(raw, type=struct)
        except msgspec.ValidationError as exc:
            msgspec.json.decode(raw)  # typed decoding stops early: is it JSON at all?
            path = _at(exc)
            if str(exc).startswith("Object contains unknown field"):
                name = path.rsplit(".", 1)[-1]
                raise ValidationError(f"body: unknown field {name!r} at {path}", path) from None
            raise ValidationError(f"body: {exc}", path) from None
    except msgspec.DecodeError as exc:
        raise ValidationError(f"body is not JSON: {exc}", "$") from None


def query_of(request: web.Request, struct: type[S]) -> S:
    """The query parameters the route's declaration validated."""
    value = request[QUERY_KEY]
    if not isinstance(value, struct):
        raise TypeError(f"the route declares its query as {type(value).__name__}")
    return value


def body_of(request: web.Request, struct: type[S]) -> S:
    """The body the route's declaration validated."""
    value = request.get(BODY_KEY)
    if not isinstance(value, struct):
        raise TypeError(f"the route declares its body as {type(value).__name__}")
    return value


def optional_body_of(request: web.Request, struct: type[S]) -> S | None:
    """The body of a route whose body may be left out."""
    value = request.get(BODY_KEY)
    return None if value is None else body_of(request, struct)


def _validating(spec: RouteSpec) -> Handler:
    async def run(request: web.Request) -> web.StreamResponse:
        request[QUERY_KEY] = decode_query(request, spec.query)
        if spec.body is not None:
            request[BODY_KEY] = await decode_body(request, spec.body, spec.body_required)
        return await spec.handler(request)

    run.__name__ = spec.handler.__name__
    run.__doc__ = spec.handler.__doc__
    setattr(run, ROLES_ATTR, spec.roles)
    return run


class ApiRoutes:
    """A group of API routes (one per module)."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.specs: list[RouteSpec] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        roles: Iterable[str],
        summary: str,
        query: type[Any] = NoQuery,
        body: type[Any] | None = None,
        body_required: bool = True,
        response: Any = dict[str, Any],
        status: int | tuple[int, ...] = 200,
        errors: Mapping[int, str] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Declare a route. ``response`` is the type of a successful answer (a Struct, or any
        type msgspec describes), sent with each status in ``status``; ``errors`` adds error
        statuses beyond 400/401/403 (and 404 where the path has parameters)."""

        def decorate(handler: Handler) -> Handler:
            spec = RouteSpec(
                method.upper(),
                path,
                handler,
                frozenset(roles),
                summary,
                query,
                body,
                body_required,
                response,
                status if isinstance(status, tuple) else (status,),
                dict(errors or {}),
                self.tag,
            )
            setattr(handler, ROLES_ATTR, spec.roles)
            self.specs.append(spec)
            return handler

        return decorate

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        """Declare a GET route (see ``route`` for the keywords)."""
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        """Declare a POST route (see ``route`` for the keywords)."""
        return self.route("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        """Declare a PUT route (see ``route`` for the keywords)."""
        return self.route("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        """Declare a DELETE route (see ``route`` for the keywords)."""
        return self.route("DELETE", path, **kw)

    def install(self, app: web.Application) -> None:
        """Register the routes, and the group for the OpenAPI document."""
        app.setdefault(INSTALLED_GROUPS, []).append(self)
        for spec in self.specs:
            app.router.add_route(spec.method, API_PREFIX + spec.path, _validating(spec))


def openapi_document(groups: Iterable[ApiRoutes], version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared route, its schemas derived from the types."""
    specs = [spec for group in groups for spec in group.specs]
    types: list[Any] = [ErrorBody]
    for spec in specs:
        types += [spec.query, spec.response] + ([spec.body] if spec.body is not None else [])
    refs, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    schema_of = dict(zip(map(id, types), refs, strict=True))
    error_ref = schema_of[id(ErrorBody)]
    paths: dict[str, dict[str, Any]] = {}
    for spec in specs:
        params: list[dict[str, Any]] = [
            {"name": part[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
            for part in spec.path.split("/")
            if part.startswith("{") and part.endswith("}")
        ]
        query = components[schema_of[id(spec.query)]["$ref"].rsplit("/", 1)[-1]]
        for name, prop in query.get("properties", {}).items():
            param = {
                "name": name,
                "in": "query",
                "required": name in query.get("required", ()),
                "schema": prop,
            }
            if "description" in prop:
                param["description"] = prop["description"]
            params.append(param)
        ok = {"description": "OK", "content": _json(schema_of[id(spec.response)])}
        responses: dict[str, Any] = {str(code): ok for code in spec.status}
        errors = {400: ERROR_TEXTS[400]}
        if "*" not in spec.roles:
            errors.update({401: ERROR_TEXTS[401], 403: ERROR_TEXTS[403]})
        if params and params[0]["in"] == "path":
            errors[404] = ERROR_TEXTS[404]
        errors.update(spec.errors)
        for code, text in sorted(errors.items()):
            responses[str(code)] = {"description": text, "content": _json(error_ref)}
        op: dict[str, Any] = {
            "summary": spec.summary,
            "operationId": f"{spec.tag}.{spec.handler.__name__}",
            "tags": [spec.tag],
            "parameters": params,
            "responses": responses,
        }
        if "*" not in spec.roles:
            op["security"] = [{"bearer": []}, {"query_token": []}]
            op["x-roles"] = sorted(spec.roles)
        if spec.body is not None:
            op["requestBody"] = {
                "required": spec.body_required,
                "content": _json(schema_of[id(spec.body)]),
            }
        paths.setdefault(API_PREFIX + spec.path, {})[spec.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "govedge hub API", "version": version},
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "query_token": {"type": "apiKey", "in": "query", "name": TOKEN_PARAM},
            },
        },
        "paths": paths,
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}
