"""The inspection API: operators' task routes (API token) and terminals' routes (device
certificate over HTTPS, no API token).

A terminal's routes need the hub served over HTTPS with client certificates requested and the
fleet CA trusted (``ssl.CERT_OPTIONAL`` with the CA chain loaded, see docs/inspector.md): the
TLS handshake proves the key, and the hub checks the certificate again against its fleet CA and
its revocation index. The certificate's common name is the device id.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import msgspec
from aiohttp import web
from cryptography import x509
from sqlalchemy.engine import Engine

from hub.api.routing import ROLES_ATTR, ApiRoutes, Items, body_of, query_of
from hub.api.util import hub_of, json_ok
from hub.auth import OPERATE, PUBLIC, READ
from hub.context import ExtensionKey
from hub.errors import NotFoundError, ValidationError
from hub.inspection.bundle import export_bundle
from hub.inspection.errors import DeviceAuthError, UploadRefused
from hub.inspection.ingest import ingest
from hub.inspection.tasks import STATES, NewTask, Review, StateChange, TaskService
from hub.inspection.uploads import PhotoStore, parse_metadata
from provisioning.errors import CAError

CERT_CACHE_S = 10.0
"""How long a checked device certificate is taken as checked (a revocation shows after this)."""
routes = ApiRoutes("inspection")


class SignedRecord(msgspec.Struct, forbid_unknown_fields=True):
    """One evidence record as the terminal signed it: its body and signature, in base64."""

    body: bytes
    sig: bytes


class RecordBatch(msgspec.Struct, forbid_unknown_fields=True):
    """The body of POST /api/v1/inspection/evidence: signed records, oldest first."""

    device_id: str
    records: list[SignedRecord]


class OffsetQuery(msgspec.Struct, forbid_unknown_fields=True):
    """The body of POST /api/v1/inspection/uploads/offsets: the photos a terminal has waiting."""

    sha256: Annotated[list[str], msgspec.Meta(max_length=10_000)]


class TaskQuery(msgspec.Struct, forbid_unknown_fields=True):
    """The filters of GET /api/v1/inspection/tasks."""

    device_id: Annotated[str | None, msgspec.Meta(description="the terminal's device id")] = None
    state: Annotated[str | None, msgspec.Meta(description="one of " + ", ".join(STATES))] = None


Task = dict[str, Any]
NO_DEVICE = {401: "no valid device certificate"}


@dataclass
class Inspection:
    """The inspection service's parts, kept on the hub for the routes."""

    engine: Engine
    tasks: TaskService
    photos: PhotoStore
    ca: Any  # provisioning.ca.FleetCA, or None: no terminal routes
    counters: dict[str, int]
    cert_cache: dict[bytes, tuple[str, x509.Certificate, float]] = field(default_factory=dict)


INSPECTION = ExtensionKey("inspection service", Inspection, "hub.inspection.setup")


def _of(request: web.Request) -> Inspection:
    return hub_of(request).extensions[INSPECTION]


def device_of(request: web.Request) -> tuple[str, x509.Certificate]:
    """The device id and certificate the TLS peer presented, checked against the fleet CA."""
    service = _of(request)
    if service.ca is None:
        raise DeviceAuthError("this hub has no fleet CA (ca_dir): terminals cannot sync")
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not der:
        service.counters["device_auth_failed"] += 1
        raise DeviceAuthError("no device certificate: connect over HTTPS with the device's")
    cached = service.cert_cache.get(der)
    if cached is not None and cached[2] > time.monotonic():
        return cached[0], cached[1]
    cert = x509.load_der_x509_certificate(der)
    try:
        service.ca.verify_issued(cert)
    except CAError:
        service.counters["device_auth_failed"] += 1
        raise DeviceAuthError("the certificate was not issued by this fleet CA") from None
    record = service.ca.index.get(cert.serial_number)
    if record is None or record.revoked:
        service.counters["device_auth_failed"] += 1
        raise DeviceAuthError("the device certificate is unknown or revoked")
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    device_id = str(names[0].value)
    if len(service.cert_cache) > 10_000:
        service.cert_cache.clear()
    service.cert_cache[der] = (device_id, cert, time.monotonic() + CERT_CACHE_S)
    return device_id, cert


# -- operators ------------------------------------------------------------------------------


@routes.post(
    "/inspection/tasks",
    roles=OPERATE,
    summary="Create an inspection task assigned to an inspector and a terminal",
    body=NewTask,
    response=Task,
    status=201,
    errors={409: "the id exists"},
)
async def create_task(request: web.Request) -> web.Response:
    """Create an inspection task for a terminal."""
    new = body_of(request, NewTask)
    task = await asyncio.to_thread(_of(request).tasks.create, new)
    return json_ok(task, status=201)


@routes.get(
    "/inspection/tasks",
    roles=READ,
    summary="Inspection tasks, by due date",
    query=TaskQuery,
    response=Items,
)
async def list_tasks(request: web.Request) -> web.Response:
    """List inspection tasks by device and state."""
    q = query_of(request, TaskQuery)
    items = await asyncio.to_thread(_of(request).tasks.list, q.device_id, q.state)
    return json_ok({"items": items})


@routes.get("/inspection/tasks/{task_id}", roles=READ, summary="One inspection task", response=Task)
async def get_task(request: web.Request) -> web.Response:
    """One inspection task, or a 404."""
    return json_ok(await asyncio.to_thread(_of(request).tasks.get, request.match_info["task_id"]))


@routes.post(
    "/inspection/tasks/{task_id}/review",
    roles=OPERATE,
    summary="Review a submitted task: accept (reviewed) or reject (back to the inspector)",
    body=Review,
    response=Task,
    errors={409: "the task is not submitted"},
)
async def review_task(request: web.Request) -> web.Response:
    """Record a reviewer's decision on a task."""
    review = body_of(request, Review)
    task = await asyncio.to_thread(_of(request).tasks.review, request.match_info["task_id"], review)
    return json_ok(task)


@routes.post(
    "/inspection/tasks/{task_id}/close",
    roles=OPERATE,
    summary="Close a reviewed task",
    response=Task,
    errors={409: "the task is not reviewed"},
)
async def close_task(request: web.Request) -> web.Response:
    """Close a task."""
    task = await asyncio.to_thread(_of(request).tasks.close, request.match_info["task_id"])
    return json_ok(task)


@routes.get(
    "/inspection/tasks/{task_id}/bundle",
    roles=READ,
    summary="The case's evidence bundle (zip): manifest, records, signatures, photos, certs",
    response=bytes,
    errors={404: "no such task, or this hub has no fleet CA"},
)
async def task_bundle(request: web.Request) -> web.Response:
    """Export a task's evidence as a bundle anyone can verify with the fleet's root."""
    service = _of(request)
    task = await asyncio.to_thread(service.tasks.get, request.match_info["task_id"])
    if service.ca is None:
        raise NotFoundError("this hub has no fleet CA: no certificate chain to bundle")
    data = await asyncio.to_thread(
        export_bundle, service.engine, task, service.photos.folder, service.ca.chain_pem()
    )
    return web.Response(
        body=data,
        content_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="evidence-{task["id"]}.zip"'},
    )


# -- terminals (device certificate) ---------------------------------------------------------


@routes.get(
    "/inspection/device/tasks",
    roles=PUBLIC,
    summary="The calling terminal's open tasks (device certificate)",
    response=Items,
    errors=NO_DEVICE,
)
async def device_tasks(request: web.Request) -> web.Response:
    """The calling terminal's open tasks."""
    device_id, _ = device_of(request)
    items = await asyncio.to_thread(_of(request).tasks.list, device_id)
    return json_ok({"items": [t for t in items if t["state"] != "closed"]})


@routes.post(
    "/inspection/device/tasks/{task_id}/state",
    roles=PUBLIC,
    summary="The terminal moves its task: accepted, in_progress, submitted",
    body=StateChange,
    response=Task,
    errors={**NO_DEVICE, 409: "not from the task's state"},
)
async def device_task_state(request: web.Request) -> web.Response:
    """A terminal moves one of its tasks to a new state."""
    device_id, _ = device_of(request)
    change = body_of(request, StateChange)
    task = await asyncio.to_thread(
        _of(request).tasks.terminal_move, device_id, request.match_info["task_id"], change.state
    )
    return json_ok(task)


@routes.post(
    "/inspection/uploads",
    roles=PUBLIC,
    summary="tus 1.0 creation of a photo upload addressed by its SHA-256 (device certificate)",
    response=None,
    status=201,
    errors={**NO_DEVICE, 460: "the first bytes do not hash to the address"},
)
async def create_upload(request: web.Request) -> web.Response:
    """Begin a tus upload of a photo named by its SHA-256."""
    device_of(request)
    meta = parse_metadata(request.headers.get("Upload-Metadata", ""))
    sha = meta.get("sha256", "")
    try:
        length = int(request.headers.get("Upload-Length", ""))
    except ValueError:
        raise ValidationError("Upload-Length (an integer) is required") from None
    photos = _of(request).photos
    photos.path(sha)  # checks the form of the hash
    location = f"{request.url.origin()}/api/v1/inspection/uploads/{sha}"
    headers = {"Tus-Resumable": "1.0.0", "Location": location}
    if request.headers.get("Content-Type") == "application/offset+octet-stream":
        # creation-with-upload: the first bytes came with the creation, made in the append's
        # first step; an upload the hub holds already answers with its offset
        status, offset = await photos.append(sha, request, 0, create=length)
        if status == 460:
            raise UploadRefused(f"the bytes received do not hash to {sha}", 460, headers)
        headers["Upload-Offset"] = str(offset)
    else:
        await asyncio.to_thread(photos.create, sha, length)
    return web.Response(status=201, headers=headers)


@routes.post(
    "/inspection/uploads/offsets",
    roles=PUBLIC,
    summary="What the hub holds of many photo uploads at once: {sha256: {offset, length}} for "
    "each it knows (device certificate); one request instead of a tus HEAD per photo",
    body=OffsetQuery,
    errors=NO_DEVICE,
)
async def upload_offsets(request: web.Request) -> web.Response:
    """How much of each photo the hub holds, so a terminal resumes its uploads."""
    device_of(request)
    query = body_of(request, OffsetQuery)
    photos = _of(request).photos
    for sha in query.sha256:
        photos.path(sha)  # checks the form of each hash: a 400 naming the bad one
    return json_ok({"uploads": await asyncio.to_thread(photos.offsets, query.sha256)})


@routes.get(
    "/inspection/uploads/{sha256}",
    roles=PUBLIC,
    summary="tus offset of a photo upload (device certificate); HEAD, as tus asks, is served too",
    response=None,
    errors=NO_DEVICE,
)
async def head_upload(request: web.Request) -> web.Response:
    """Tus: how many bytes of an upload the hub holds."""
    device_of(request)
    return await _of(request).photos.head(request.match_info["sha256"])


@routes.route(
    "PATCH",
    "/inspection/uploads/{sha256}",
    roles=PUBLIC,
    summary="tus append to a photo upload at its offset (device certificate)",
    response=None,
    status=204,
    errors={
        **NO_DEVICE,
        409: "wrong offset",
        415: "not application/offset+octet-stream",
        460: "the bytes do not hash to the address",
    },
)
async def patch_upload(request: web.Request) -> web.Response:
    """Tus: append bytes to an upload."""
    device_of(request)
    return await _of(request).photos.patch(request.match_info["sha256"], request)


async def options_upload(request: web.Request) -> web.Response:
    """Answer tus discovery: version, extensions (empty answer, outside the JSON API document)."""
    return web.Response(
        status=204,
        headers={
            "Tus-Resumable": "1.0.0",
            "Tus-Version": "1.0.0",
            "Tus-Extension": "creation,creation-with-upload",
            "Tus-Max-Size": str(32 * 1024 * 1024),
        },
    )


@routes.post(
    "/inspection/evidence",
    roles=PUBLIC,
    summary="A terminal's signed records, oldest first: checked and kept up to the first bad one",
    body=RecordBatch,
    errors=NO_DEVICE,
)
async def post_evidence(request: web.Request) -> web.Response:
    """Take a terminal's batch of signed evidence records."""
    device_id, cert = device_of(request)
    batch = body_of(request, RecordBatch)
    if batch.device_id != device_id:
        raise ValidationError(
            f"records of {batch.device_id!r} sent with the certificate of {device_id!r}"
        )
    items = [(record.body, record.sig) for record in batch.records]
    service = _of(request)
    result = await asyncio.to_thread(ingest, service.engine, service.photos, device_id, cert, items)
    if result.refused:
        service.counters["records_refused"] += 1
    service.counters["records_accepted"] += result.accepted
    return json_ok(result.as_json())


def install_head(app: web.Application) -> None:
    """Route HEAD and OPTIONS, which tus asks for and whose answers are headers alone: HEAD is
    served by the GET's handler (the OpenAPI document lists the GET: same answer, same roles),
    OPTIONS is discovery, open to anyone, and not part of the JSON API document."""
    app.router.add_route("HEAD", "/api/v1/inspection/uploads/{sha256}", head_upload)
    setattr(options_upload, ROLES_ATTR, PUBLIC)
    app.router.add_route("OPTIONS", "/api/v1/inspection/uploads", options_upload)


def photo_folder(database_url: str) -> Path:
    """Beside a SQLite registry; var/hub/inspection-photos otherwise."""
    if database_url.startswith("sqlite:///"):
        return Path(database_url[len("sqlite:///") :]).parent / "inspection-photos"
    return Path("var/hub/inspection-photos")
