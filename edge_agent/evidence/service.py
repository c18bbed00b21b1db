"""The agent's evidence extension: records with photo and position, the sync loop, local routes.

Attached when the device has a GNSS receiver and a local API (an inspector terminal). The key
that signs records is the device's provisioning key (``broker.tls.key_file``); the hub is
``identity.hub_url``, reached over HTTPS with the device certificate. Local API routes (all
behind the local API's bearer token):

===================================  ==================================================
GET  /v1/gnss/fix                    the current fix, or ``{"fix": false, "detail"}``
GET  /v1/inspection/tasks            tasks as last fetched from the hub (works offline)
POST /v1/inspection/tasks/{id}/state {"state": accepted|in_progress|submitted}, queued
POST /v1/evidence                    {"task_id","item_id","answer","note","inspector_id",
                                     "photo": bool} -> the stored record (seq, hash, fix)
GET  /v1/evidence/status             what waits to sync, the last sync, the last refusal
GET  /v1/evidence/task/{id}          the answers recorded for a task, oldest first
POST /v1/evidence/sync               sync now (answers at once; status tells the outcome)
===================================  ==================================================

A photo is taken from the camera at the moment of the record; the position is read from the
receiver at that moment too. Without a fix at that moment the record says ``no_fix``: an
earlier position is never reused.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from drivers.errors import DriverError
from edge_agent.agent import resolve_path
from edge_agent.errors import AgentError
from edge_agent.evidence.store import EvidenceError, EvidenceStore
from edge_agent.evidence.sync import EvidenceSync, SyncError, device_tls, queue_task_state
from govedge.contract import evidence as ev
from govedge.errors import ConfigError
from govedge.logs import fields, get_logger

if TYPE_CHECKING:
    from edge_agent.agent import Agent

log = get_logger(__name__)

SYNC_INTERVAL_S = 30.0
PHOTO_TIMEOUT_S = 3.0
JPEG_QUALITY = 88


def load_device_key(path: str) -> ec.EllipticCurvePrivateKey:
    """The device's private key, which signs evidence records."""
    from provisioning.device.identity import passphrase_from_env

    try:
        key = load_pem_private_key(Path(path).read_bytes(), passphrase_from_env())
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"broker.tls.key_file: cannot load the device key {path}: {exc}"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError("evidence needs an ECDSA P-256 device key (broker.tls.key_file)")
    return key


def read_position(driver: Any) -> tuple[ev.Position | None, str]:
    """(position, detail) from a GNSS receiver now; no position without a current fix."""
    try:
        reading = driver.poll()  # raises when nothing valid came within the receiver's timeout
    except DriverError as exc:
        return None, str(exc)
    if reading.get("fix", 0) <= 0 or "lat" not in reading:
        return None, f"no fix ({int(reading.get('satellites', 0))} satellites)"
    stamp = reading.get("time")
    age = max(0.0, time.time() - stamp) if stamp is not None else 0.0
    position = ev.Position(
        lat=reading["lat"],
        lon=reading["lon"],
        quality=int(reading["fix"]),
        satellites=int(reading.get("satellites", 0)),
        hdop=reading.get("hdop"),
        fix_age_s=round(age, 3),
    )
    return position, "fix"


def capture_jpeg(driver: Any) -> bytes:
    """One JPEG from a camera driver's newest frame."""
    from drivers.camera.images import encode_jpeg

    frame = driver.camera.read(PHOTO_TIMEOUT_S)
    try:
        return encode_jpeg(frame.image, JPEG_QUALITY)
    finally:
        frame.wipe()


class EvidenceService:
    """Attached to the agent; owns the store and the sync loop."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        cfg = agent.config
        tls = cfg.broker.tls
        if tls is None or not tls.key_file or not tls.cert_file:
            raise ConfigError(f"{agent.where}: evidence needs broker.tls cert_file and key_file")
        base = agent.base_dir
        self.key_file = str(resolve_path(base, tls.key_file))
        self.cert_file = str(resolve_path(base, tls.cert_file))
        ca = cfg.identity.hub_ca_file or tls.ca_file
        self.ca_file = str(resolve_path(base, ca)) if ca else ""
        self.hub_url = cfg.identity.hub_url
        self.store: EvidenceStore | None = None
        self.sync: EvidenceSync | None = None
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.syncing = False
        self.last_sync: dict[str, Any] = {}
        self.interval_s = SYNC_INTERVAL_S

    def attach(self) -> None:
        """Join the agent's extensions as its evidence service (the local API then adds the
        evidence routes)."""
        self.agent.extensions.append(self)
        self.agent.evidence = self

    async def start(self) -> None:
        """Open the store with the device key, remove orphan photos, and start the sync loop when
        a hub is configured; ConfigError when the device key cannot be loaded."""
        key = load_device_key(self.key_file)
        self.store = EvidenceStore(
            self.agent.state_dir / "evidence", self.agent.config.device_id, key
        )
        removed = await asyncio.to_thread(self.store.sweep)
        if removed:
            log.info("evidence_orphans_removed", extra=fields(photos=removed))
        if self.hub_url:
            tls = device_tls(self.ca_file, self.cert_file, self.key_file) if self.ca_file else None
            self.sync = EvidenceSync(self.store, self.hub_url, tls)
            self.task = asyncio.create_task(self._loop(), name="evidence-sync")

    async def stop(self) -> None:
        """Stop the sync loop (however it ended) and close the store."""
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001, S110 - stop must close the store however the sync task ended
                pass
        if self.store is not None:
            self.store.close()

    async def _loop(self) -> None:
        assert self.sync is not None  # noqa: S101 - narrowing: start() sets it before starting this loop
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(sock_read=60)) as session:
            while True:
                self.syncing = True
                try:
                    report = await self.sync.sync_once(session)
                    self.last_sync = {
                        "ok": report.refused is None,
                        "at": time.time(),
                        "acked_through": report.acked_through,
                        "photos_sent": report.photos_sent,
                        "refused": report.refused,
                    }
                except (aiohttp.ClientError, OSError, TimeoutError, SyncError) as exc:
                    self.last_sync = {"ok": False, "at": time.time(), "error": str(exc)[:300]}
                    log.info("evidence_sync_failed", extra=fields(reason=str(exc)[:300]))
                finally:
                    self.syncing = False
                try:
                    await asyncio.wait_for(self.wake.wait(), self.interval_s)
                except TimeoutError:
                    pass
                self.wake.clear()

    # -- local API --------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        """Add the evidence routes of the module docstring to the local API's app."""
        app.router.add_get("/v1/gnss/fix", self.gnss_fix)
        app.router.add_get("/v1/inspection/tasks", self.tasks)
        app.router.add_post("/v1/inspection/tasks/{task_id}/state", self.task_state)
        app.router.add_post("/v1/evidence", self.record)
        app.router.add_get("/v1/evidence/status", self.status)
        app.router.add_get("/v1/evidence/task/{task_id}", self.task_records)
        app.router.add_post("/v1/evidence/sync", self.sync_now)

    def _gnss(self) -> Any:
        for sup in self.agent.supervisors.values():
            if sup.config.kind == "gnss":
                return sup
        raise AgentError("no GNSS receiver on this device")

    def _camera(self) -> Any:
        for sup in self.agent.supervisors.values():
            if sup.config.kind == "camera":
                return sup
        raise AgentError("no camera on this device")

    async def _position(self) -> tuple[ev.Position | None, str]:
        try:
            sup = self._gnss()
        except AgentError as exc:
            return None, str(exc)
        return await self.agent.local_api.call_locked(sup, read_position)  # type: ignore[no-any-return]

    async def gnss_fix(self, request: web.Request) -> web.Response:
        """The receiver's position now, or ``{"fix": false}`` and why there is none."""
        position, detail = await self._position()
        if position is None:
            return web.json_response({"fix": False, "detail": detail})
        return web.json_response({"fix": True, "detail": detail, **_builtins(position)})

    async def tasks(self, request: web.Request) -> web.Response:
        """The tasks as last fetched from the hub (works offline), and the task states not yet
        sent."""
        assert self.store is not None  # noqa: S101 - narrowing: start() opens the store before serving
        raw = await asyncio.to_thread(self.store.get_meta, "tasks")
        states = await asyncio.to_thread(self.store.get_meta, "task_states")
        return web.json_response(
            {
                "items": json.loads(raw) if raw else [],
                "pending_states": json.loads(states) if states else {},
            }
        )

    async def task_state(self, request: web.Request) -> web.Response:
        """Queue a task's new state for the next sync; 400 for a state the hub does not take."""
        assert self.store is not None  # noqa: S101 - narrowing: start() opens the store before serving
        body = await _json(request)
        state = body.get("state")
        if state not in ("accepted", "in_progress", "submitted"):
            return _error(400, "state must be accepted, in_progress or submitted")
        await asyncio.to_thread(queue_task_state, self.store, request.match_info["task_id"], state)
        return web.json_response({"queued": True})

    async def record(self, request: web.Request) -> web.Response:
        """Take the photo (if asked) and the position now, then sign and store the record.

        400 for a bad field, 404 for a photo without a camera, the driver's error when the photo
        fails. Without a fix now the record says ``no_fix``: an earlier position is never
        reused."""
        assert self.store is not None  # noqa: S101 - narrowing: start() opens the store before serving
        body = await _json(request)
        strings: dict[str, str] = {}
        for name in ("task_id", "item_id", "answer", "note", "inspector_id"):
            value = body.get(name, "")
            if not isinstance(value, str):
                return _error(400, f"{name} must be a string")
            strings[name] = value
        photo: bytes | None = None
        if body.get("photo"):
            try:
                sup = self._camera()
                photo = await self.agent.local_api.call_locked(sup, capture_jpeg)
            except AgentError as exc:
                return _error(404, str(exc))
            except DriverError as exc:
                from edge_agent.local_api import driver_error_response

                return driver_error_response(exc)
        position, detail = await self._position()
        since = self.sync.since_contact() if self.sync is not None else None
        try:
            stored = await asyncio.to_thread(
                lambda: self.store.append(  # type: ignore[union-attr]
                    task_id=strings["task_id"],
                    item_id=strings["item_id"],
                    answer=strings["answer"],
                    note=strings["note"],
                    inspector_id=strings["inspector_id"],
                    photo=photo,
                    position=position,
                    since_contact_s=None if since is None else round(since, 3),
                )
            )
        except EvidenceError as exc:
            return _error(400, str(exc))
        log.info(
            "evidence_recorded",
            extra=fields(seq=stored.seq, task=stored.task_id, fix=position is not None),
        )
        return web.json_response(
            {
                "seq": stored.seq,
                "hash": stored.hash,
                "photo_sha256": stored.photo_sha256,
                "fix": position is not None,
                "fix_detail": detail,
                "position": _builtins(position) if position else None,
            }
        )

    async def task_records(self, request: web.Request) -> web.Response:
        """The answers recorded for a task (the app shows them again after a restart)."""
        assert self.store is not None  # noqa: S101 - narrowing: start() opens the store before serving
        rows = await asyncio.to_thread(self.store.for_task, request.match_info["task_id"])
        items = []
        for row in rows:
            record = ev.decode(row.body)
            items.append(
                {
                    "seq": record.seq,
                    "item_id": record.item_id,
                    "answer": record.answer,
                    "note": record.note,
                    "fix": record.fix == ev.FIX_OK,
                    "photo": bool(record.photo_sha256),
                }
            )
        return web.json_response({"items": items})

    async def status(self, request: web.Request) -> web.Response:
        """What waits to sync, the last sync's outcome and the seconds since the hub last
        answered."""
        assert self.store is not None  # noqa: S101 - narrowing: start() opens the store before serving
        counts = await asyncio.to_thread(self.store.counts)
        return web.json_response(
            {
                **counts,
                "hub": self.hub_url,
                "syncing": self.syncing,
                "last_sync": self.last_sync,
                "since_contact_s": self.sync.since_contact() if self.sync else None,
            }
        )

    async def sync_now(self, request: web.Request) -> web.Response:
        """Wake the sync loop and answer at once (the status route tells the outcome); 503
        without a hub."""
        if self.sync is None:
            return _error(503, "no hub configured (identity.hub_url)")
        self.wake.set()
        return web.json_response({"started": True})


def _builtins(position: ev.Position) -> dict[str, Any]:
    import msgspec

    out: dict[str, Any] = msgspec.to_builtins(position)
    return out


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text='{"error": "body is not JSON"}') from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"error": "body must be a JSON object"}')
    return body


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message, "code": "evidence"}, status=status)
