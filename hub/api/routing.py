"""Route tables that carry their own roles and OpenAPI description.

A handler is declared once, with its method, path, roles, summary, query parameters and body
schema; the same declaration registers the aiohttp route, is checked by the auth middleware and
produces the OpenAPI document, so the three cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

API_PREFIX = "/api/v1"
ROLES_ATTR = "govedge_roles"


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: str = "string"  # string, integer, number, boolean
    description: str = ""
    required: bool = False


@dataclass(slots=True)
class RouteSpec:
    method: str
    path: str  # below /api/v1
    handler: Handler
    roles: frozenset[str]
    summary: str
    query: tuple[Param, ...] = ()
    body: dict[str, Any] | None = None
    tag: str = ""
    responses: dict[str, str] = field(default_factory=dict)


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
        query: Iterable[Param] = (),
        body: dict[str, Any] | None = None,
        responses: dict[str, str] | None = None,
    ) -> Callable[[Handler], Handler]:
        def decorate(handler: Handler) -> Handler:
            spec = RouteSpec(
                method.upper(),
                path,
                handler,
                frozenset(roles),
                summary,
                tuple(query),
                body,
                self.tag,
                dict(responses or {}),
            )
            setattr(handler, ROLES_ATTR, spec.roles)
            self.specs.append(spec)
            return handler

        return decorate

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **kw)

    def install(self, app: web.Application) -> None:
        for spec in self.specs:
            app.router.add_route(spec.method, API_PREFIX + spec.path, spec.handler)


def openapi_document(groups: Iterable[ApiRoutes], version: str) -> dict[str, Any]:
    """The OpenAPI 3.0 document of every declared route."""
    paths: dict[str, dict[str, Any]] = {}
    for group in groups:
        for spec in group.specs:
            params: list[dict[str, Any]] = []
            for part in spec.path.split("/"):
                if part.startswith("{") and part.endswith("}"):
                    params.append(
                        {
                            "name": part[1:-1],
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    )
            for q in spec.query:
                params.append(
                    {
                        "name": q.name,
                        "in": "query",
                        "required": q.required,
                        "description": q.description,
                        "schema": {"type": q.type},
                    }
                )
            op: dict[str, Any] = {
                "summary": spec.summary,
                "tags": [spec.tag],
                "parameters": params,
                "responses": {
                    "200": {"description": "OK"},
                    **{code: {"description": text} for code, text in spec.responses.items()},
                },
            }
            if "*" not in spec.roles:
                op["security"] = [{"bearer": []}]
                op["x-roles"] = sorted(spec.roles)
                op["responses"].setdefault("401", {"description": "no or unknown token"})
                op["responses"].setdefault("403", {"description": "role not allowed"})
            if spec.body is not None:
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": spec.body}},
                }
            paths.setdefault(API_PREFIX + spec.path, {})[spec.method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": "govedge hub API", "version": version},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    }
