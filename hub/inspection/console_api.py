"""The inspection routes of the operator console (API token): a filtered page of tasks, one
task's case with its verification, photo previews and photos, and reassignment to another
terminal. Reading needs a reading role; changing a task needs operator or admin, whatever the
page shows."""

from __future__ import annotations

import asyncio
from typing import Annotated

import msgspec
from aiohttp import web

from hub.api.routing import ApiRoutes, body_of, one_of, query_of
from hub.api.util import json_ok
from hub.auth import OPERATE, READ
from hub.errors import NotFoundError, ValidationError
from hub.inspection.api import Task, _of
from hub.inspection.cases import PAGE, case_view, task_page
from hub.inspection.tasks import STATES, Assignment
from hub.inspection.thumbs import NoPreview, thumbnail
from hub.inspection.uploads import check_sha

routes = ApiRoutes("inspection")


class ConsoleTaskQuery(msgspec.Struct, forbid_unknown_fields=True):
    """The filters of GET /api/v1/inspection/console/tasks."""

    state: Annotated[str, one_of(STATES)] | None = None
    site: str | None = None
    assignee: Annotated[
        str | None, msgspec.Meta(description="the inspector's id or the terminal's device id")
    ] = None
    q: Annotated[str | None, msgspec.Meta(description="part of the task's id or site")] = None
    offset: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0
    limit: Annotated[int, msgspec.Meta(ge=1, le=500)] = PAGE


class PhotoQuery(msgspec.Struct, forbid_unknown_fields=True):
    """Which size of a photo to serve."""

    size: Annotated[str, one_of(("thumb", "full"))] = "thumb"


@routes.get(
    "/inspection/console/tasks",
    roles=READ,
    summary="A page of inspection tasks for the console, filtered, with their evidence counts "
    "and the values each filter can take",
    query=ConsoleTaskQuery,
)
async def console_tasks(request: web.Request) -> web.Response:
    """One page of tasks for the inspection console."""
    q = query_of(request, ConsoleTaskQuery)
    page = await asyncio.to_thread(
        task_page,
        _of(request).engine,
        state=q.state,
        site=q.site,
        assignee=q.assignee,
        q=q.q,
        offset=q.offset,
        limit=q.limit,
    )
    return json_ok(page)


@routes.get(
    "/inspection/console/tasks/{task_id}",
    roles=READ,
    summary="One task's case: its records, whether the evidence the hub holds verifies (or the "
    "first bad record), and its terminal's outstanding refusal",
)
async def console_case(request: web.Request) -> web.Response:
    """A case: the task, its records and their verification."""
    service = _of(request)
    task = await asyncio.to_thread(service.tasks.get, request.match_info["task_id"])
    view = await asyncio.to_thread(
        case_view, service.engine, service.photos.folder, task, service.ca
    )
    return json_ok(view)


@routes.get(
    "/inspection/photos/{sha256}",
    roles=READ,
    summary="An evidence photo (size=full) or its JPEG preview (size=thumb, the default)",
    query=PhotoQuery,
    response=bytes,
    errors={404: "no such photo, or no preview can be made of it"},
)
async def photo(request: web.Request) -> web.Response:
    """Serve a stored photo (or its thumbnail) by its SHA-256."""
    sha = request.match_info["sha256"]
    try:
        check_sha(sha)
    except ValidationError:
        raise NotFoundError(f"no photo {sha[:80]!r}") from None
    folder = _of(request).photos.folder
    headers = {"Cache-Control": "private, max-age=86400"}  # content-addressed: never changes
    if query_of(request, PhotoQuery).size == "full":
        path = folder / sha
        if not path.exists():
            raise NotFoundError(f"no photo {sha}")
        return web.Response(
            body=await asyncio.to_thread(path.read_bytes),
            content_type="image/jpeg",
            headers=headers,
        )
    try:
        data = await asyncio.to_thread(thumbnail, folder, sha)
    except NoPreview as exc:
        raise NotFoundError(str(exc)) from None
    return web.Response(body=data, content_type="image/jpeg", headers=headers)


@routes.post(
    "/inspection/tasks/{task_id}/assign",
    roles=OPERATE,
    summary="Give a task to another terminal (and inspector) before any of its evidence is held",
    body=Assignment,
    response=Task,
    errors={409: "the task has evidence already, or is submitted or later"},
)
async def assign_task(request: web.Request) -> web.Response:
    """Assign a task to an inspector."""
    to = body_of(request, Assignment)
    task = await asyncio.to_thread(_of(request).tasks.assign, request.match_info["task_id"], to)
    return json_ok(task)
