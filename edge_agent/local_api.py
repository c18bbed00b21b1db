"""The local device API for the kiosk and inspector apps on the same machine.

aiohttp on a Unix socket (``local_api.unix_socket``) or a loopback port. Every request carries
``Authorization: Bearer <token>``; the token is written at each start to a file only the agent's
user can read (mode 0600, optionally chowned to the app's user), so that only local processes of
that user can drive the hardware. Routes:

===============================  ======================================================
GET  /v1/health                  device, link and driver states, counters
POST /v1/card/read               read the ID card on the reader (full fields; photo in
                                 base64; never its fingerprint data)
POST /v1/smartcard/read          read the social-security card (PC/SC)
POST /v1/face/session            {"reference_image": b64, "attempt": n} -> NDJSON steps:
                                 look, challenge, progress..., verdict (edge_agent.face_api)
POST /v1/face/verify             {"reference_image": base64} -> the camera's verdict
POST /v1/fingerprint/match-card  {} -> the card's fingerprint vs a live finger, 1:1
POST /v1/fingerprint/verify      {"template_id": n}
POST /v1/fingerprint/search      {}
GET  /v1/printer/status          {"state": ready|paper_out|paper_low|cover_open|offline}
POST /v1/print                   {"receipt": {...}} (drivers.printer receipt layout)
POST /v1/camera/scan-qr          {"timeout_s": n} -> {"text"}
GET  /v1/events                  Server-Sent Events: card_inserted, card_removed,
                                 driver_state, link, printer_status, face_prompt
GET  /metrics                    Prometheus text format
===============================  ======================================================

Each route takes an optional ``driver`` (query or body) to pick one of several capable devices.
Driver errors become JSON errors with the health state: 409 for a person to act or busy, 503 when
the device is absent or offline, 502 for a device fault, 404 when no driver can do it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import json
import os
import pwd
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from drivers.base import (
    CardFingerprintCapability,
    CardReaderCapability,
    FaceCapability,
    FingerprintCapability,
    FingerprintFeatureCapability,
    PrinterCapability,
    PrinterStatusCapability,
    QrScanCapability,
    SocialSecurityCapability,
)
from drivers.errors import BusyError, DriverError, TransportError, UserActionError
from edge_agent.agent import resolve_path
from edge_agent.commands import wipe
from edge_agent.errors import AgentError
from edge_agent.metrics import make_registry
from edge_agent.supervisor import DriverSupervisor
from govedge.errors import ConfigError
from govedge.logs import fields, get_logger

if TYPE_CHECKING:
    from edge_agent.agent import Agent

log = get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_BODY = 8 * 1024 * 1024  # a reference photo fits
LOCK_WAIT_S = 1.0
"""How long a request waits for a device another request is using before a 409 busy."""
QR_TIMEOUT_S = 10.0
PRINTER_STATES = {"PaperOut": "paper_out", "CoverOpen": "cover_open"}


def write_token_file(path: Path, owner: str = "") -> str:
    """Write a fresh random token to ``path`` with mode 0600; return it."""
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        if owner:
            try:
                entry = pwd.getpwnam(owner)
            except KeyError:
                raise ConfigError(f"local_api.token_owner: no user {owner!r}") from None
            os.fchown(fd, entry.pw_uid, entry.pw_gid)
        os.write(fd, token.encode() + b"\n")
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return token


class LocalApi:
    """The aiohttp application and its site, started and stopped with the agent."""

    def __init__(self, agent: Agent) -> None:
        cfg = agent.config.local_api
        if cfg is None:
            raise ConfigError(f"{agent.where}: $.local_api is not configured")
        self.agent = agent
        self.config = cfg
        self.token_path = resolve_path(agent.state_dir, cfg.token_file or "api.token")
        self.token = ""
        self.registry = make_registry(agent)
        self.runner: web.AppRunner | None = None
        self.url = ""
        self.port = 0

    def attach(self) -> None:
        """Join the agent's extensions as its local API."""
        self.agent.extensions.append(self)
        self.agent.local_api = self

    def make_app(self) -> web.Application:
        """The app with every route of the module docstring (and the evidence routes on an
        inspector terminal), behind the bearer-token check."""
        app = web.Application(middlewares=[self._auth], client_max_size=MAX_BODY)
        app.router.add_get("/v1/health", self.health)
        app.router.add_post("/v1/card/read", self.read_card)
        app.router.add_post("/v1/smartcard/read", self.read_smartcard)
        app.router.add_post("/v1/face/session", self.face_session)
        app.router.add_post("/v1/face/verify", self.verify_face)
        app.router.add_post("/v1/fingerprint/match-card", self.match_card)
        app.router.add_post("/v1/fingerprint/verify", self.verify_finger)
        app.router.add_post("/v1/fingerprint/search", self.search_finger)
        app.router.add_get("/v1/printer/status", self.printer_status)
        app.router.add_post("/v1/print", self.print_receipt)
        app.router.add_post("/v1/camera/scan-qr", self.scan_qr)
        app.router.add_get("/v1/events", self.events)
        app.router.add_get("/metrics", self.metrics)
        if self.agent.evidence is not None:  # an inspector terminal (edge_agent.evidence)
            self.agent.evidence.add_routes(app)
        return app

    async def start(self) -> None:
        """Write a fresh token file, then listen on the Unix socket (mode 0660) or the loopback
        port (``url`` and ``port`` then say where; port 0 picks a free one)."""
        self.token = write_token_file(self.token_path, self.config.token_owner)
        self.runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=1.0)
        await self.runner.setup()
        site: web.BaseSite
        if self.config.unix_socket:
            path = resolve_path(self.agent.state_dir, self.config.unix_socket)
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            site = web.UnixSite(self.runner, str(path))
            await site.start()
            os.chmod(path, 0o660)
            self.url = f"unix:{path}"
        else:
            site = web.TCPSite(self.runner, self.config.host, self.config.port)
            await site.start()
            server = getattr(site, "_server", None)
            sockets = getattr(server, "sockets", None) or []
            self.port = int(sockets[0].getsockname()[1]) if sockets else self.config.port
            self.url = f"http://{self.config.host}:{self.port}"
        log.info("local_api_listening", extra=fields(url=self.url, token_file=str(self.token_path)))

    async def stop(self) -> None:
        """Stop listening and close open connections (at most about a second)."""
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    # -- plumbing ---------------------------------------------------------------------------

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("Authorization", "")
        expected = f"Bearer {self.token}"
        if not self.token or not hmac.compare_digest(given.encode(), expected.encode()):
            return _error(401, "missing or wrong bearer token", "unauthorized")
        try:
            response = await handler(request)
        except web.HTTPBadRequest:
            self.agent.counters["local_api_bad_requests"] += 1
            raise
        if response.status == 400:
            self.agent.counters["local_api_bad_requests"] += 1
        return response

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise web.HTTPBadRequest(text='{"error": "body is not JSON"}') from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text='{"error": "body must be a JSON object"}')
        return body

    def _pick(
        self, capability: type, request: web.Request, body: dict[str, Any], key: str = "driver"
    ) -> DriverSupervisor:
        name = body.get(key) or request.query.get(key)
        return self.agent.find_capable(capability, name if isinstance(name, str) else None)

    async def _device_call(
        self,
        capability: type,
        request: web.Request,
        body: dict[str, Any],
        call: Callable[[Any], Any],
        key: str = "driver",
    ) -> tuple[str, Any] | web.Response:
        try:
            sup = self._pick(capability, request, body, key)
        except AgentError as exc:
            return _error(404, str(exc), "no_driver")
        try:
            return sup.name, await self.call_locked(sup, call)
        except DriverError as exc:
            return _driver_error(exc)

    async def call_locked(self, sup: DriverSupervisor, call: Callable[[Any], Any]) -> Any:
        """Run ``call(driver)`` in a worker thread holding the device; BusyError if another
        request keeps it longer than LOCK_WAIT_S."""
        device = sup.driver
        acquire = asyncio.ensure_future(sup.lock.acquire())
        try:
            done, _ = await asyncio.wait({acquire}, timeout=LOCK_WAIT_S)
        except asyncio.CancelledError:  # the request went away while waiting
            if not acquire.cancel() and not acquire.cancelled():
                sup.lock.release()
            raise
        if not done:
            acquire.cancel()
            try:
                await acquire
            except asyncio.CancelledError:
                raise BusyError(f"{sup.name} is busy with another request") from None
            sup.lock.release()  # granted just as we gave up: hand it on
            raise BusyError(f"{sup.name} is busy with another request")
        try:
            return await sup.call(lambda: call(device))
        finally:
            sup.lock.release()

    # -- routes -----------------------------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        """Device, link and driver states and the Health counters."""
        a = self.agent
        drivers = {
            name: {
                "kind": sup.config.kind,
                "state": sup.state.value,
                "detail": sup.detail,
                "errors": sup.errors,
            }
            for name, sup in a.supervisors.items()
        }
        return web.json_response(
            {
                "device_id": a.config.device_id,
                "boot_id": a.boot_id,
                "connected": a.link.connected,
                "drivers": drivers,
                "counters": a.health_counters(),
            }
        )

    async def read_card(self, request: web.Request) -> web.Response:
        """Read the ID card: its fields, bytes in base64, never its fingerprint data; the
        card's data is wiped from memory once answered."""
        body = await self._body(request)
        out = await self._device_call(CardReaderCapability, request, body, lambda d: d.read_card())
        if isinstance(out, web.Response):
            return out
        name, card = out
        try:
            data = {
                k: (base64.b64encode(v).decode() if isinstance(v, bytes | bytearray) else v)
                for k, v in card.items()
                if k not in NEVER_TO_THE_APP
            }
            return web.json_response({"driver": name, "card": data})
        finally:
            wipe(card)

    async def read_smartcard(self, request: web.Request) -> web.Response:
        """Read the social-security card over PC/SC; its data is cleared from memory once sent."""
        body = await self._body(request)
        out = await self._device_call(
            SocialSecurityCapability, request, body, lambda d: d.read_social_security(True)
        )
        if isinstance(out, web.Response):
            return out
        name, card = out
        try:
            return web.json_response({"driver": name, "card": dict(card)})
        finally:
            card.clear()

    async def face_session(self, request: web.Request) -> web.StreamResponse:
        """Guide a face check as NDJSON steps (edge_agent.face_api)."""
        from edge_agent.face_api import stream_face_session

        return await stream_face_session(self, request, await self._body(request))

    async def match_card(self, request: web.Request) -> web.Response:
        """The card's fingerprint features (read here, never sent) against a live finger."""
        body = await self._body(request)
        try:
            reader = self._pick(CardFingerprintCapability, request, body, "reader")
            finger = self._pick(FingerprintFeatureCapability, request, body)
        except AgentError as exc:
            return _error(404, str(exc), "no_driver")
        features: list[bytearray] = []
        try:
            features = await self.call_locked(reader, lambda d: d.read_fingerprint_features())
            result = await self.call_locked(finger, lambda d: d.match_features(features))
        except DriverError as exc:
            return _driver_error(exc)
        finally:
            for feature in features:
                feature[:] = bytes(len(feature))
        return web.json_response(
            {"driver": finger.name, "matched": bool(result["match"]), "score": result["score"]}
        )

    async def printer_status(self, request: web.Request) -> web.Response:
        """The printer's state now; a change is also broadcast as a printer_status event."""
        out = await self._device_call(
            PrinterStatusCapability, request, {}, lambda d: d.printer_status()
        )
        if isinstance(out, web.Response):
            return out
        name, status = out
        self.agent.note_printer_status(name, status)
        return web.json_response({"driver": name, **status})

    async def scan_qr(self, request: web.Request) -> web.Response:
        """Wait up to ``timeout_s`` (capped below the driver's poll timeout) for a QR code and
        return its text."""
        body = await self._body(request)
        timeout = body.get("timeout_s", QR_TIMEOUT_S)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            return _error(400, "timeout_s must be a positive number of seconds", "bad_request")
        try:
            sup = self._pick(QrScanCapability, request, body)
        except AgentError as exc:
            return _error(404, str(exc), "no_driver")
        seconds = min(float(timeout), max(0.5, sup.config.poll_timeout_s - 1.0))
        out = await self._device_call(QrScanCapability, request, body, lambda d: d.scan_qr(seconds))
        if isinstance(out, web.Response):
            return out
        return web.json_response({"driver": out[0], "text": out[1]})

    async def verify_face(self, request: web.Request) -> web.Response:
        """The camera's verdict on the person in front of it against ``reference_image``."""
        body = await self._body(request)
        try:
            image = base64.b64decode(str(body.get("reference_image", "")), validate=True)
        except ValueError:
            return _error(400, "reference_image must be base64", "bad_request")
        if not image:
            return _error(400, "reference_image is required", "bad_request")
        out = await self._device_call(FaceCapability, request, body, lambda d: d.verify_face(image))
        if isinstance(out, web.Response):
            return out
        return web.json_response({"driver": out[0], "result": _jsonable(out[1])})

    async def verify_finger(self, request: web.Request) -> web.Response:
        """Check a live finger against one enrolled template (1:1)."""
        body = await self._body(request)
        template = body.get("template_id")
        if not isinstance(template, int) or isinstance(template, bool):
            return _error(400, "template_id (an integer) is required", "bad_request")
        out = await self._device_call(
            FingerprintCapability, request, body, lambda d: d.verify_finger(template)
        )
        if isinstance(out, web.Response):
            return out
        return web.json_response({"driver": out[0], "result": _jsonable(out[1])})

    async def search_finger(self, request: web.Request) -> web.Response:
        """Search the reader's enrolled templates for a live finger (1:N)."""
        body = await self._body(request)
        out = await self._device_call(
            FingerprintCapability, request, body, lambda d: d.search_finger()
        )
        if isinstance(out, web.Response):
            return out
        return web.json_response({"driver": out[0], "result": _jsonable(out[1])})

    async def print_receipt(self, request: web.Request) -> web.Response:
        """Print ``receipt`` (drivers.printer layout); a printer out of paper or open answers 409
        with its ``state``."""
        body = await self._body(request)
        receipt = body.get("receipt")
        if not isinstance(receipt, dict):
            return _error(400, "receipt (an object) is required", "bad_request")
        out = await self._device_call(
            PrinterCapability, request, body, lambda d: d.print_receipt(receipt)
        )
        if isinstance(out, web.Response):
            if out.status == 409 and out.text:
                error = json.loads(out.text)
                if error.get("code") in PRINTER_STATES:
                    error["state"] = PRINTER_STATES[error["code"]]
                    return web.json_response(error, status=409)
            return out
        return web.json_response({"driver": out[0], "printed": True})

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-Sent Events: one ``data: {json}`` line per event, a comment every 15 s."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=256)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        self.agent.event_listeners.add(queue)
        try:
            await response.write(b": connected\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), 15.0)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                name = str(event.get("event", "message"))
                data = json.dumps(event, ensure_ascii=False)
                await response.write(f"event: {name}\ndata: {data}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.agent.event_listeners.discard(queue)
        return response

    async def metrics(self, request: web.Request) -> web.Response:
        """The agent's metrics in the Prometheus text format."""
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


NEVER_TO_THE_APP = frozenset({"fingerprint"})
"""Card fields the local API never returns: fingerprints stay in the agent (match-card)."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def error_response(status: int, message: str, code: str, state: str = "") -> web.Response:
    """A JSON error in the local API's shape."""
    return _error(status, message, code, state)


def driver_error_response(exc: DriverError) -> web.Response:
    """The JSON error for a driver error (409 act/busy, 503 absent, 502 fault)."""
    return _driver_error(exc)


def _error(status: int, message: str, code: str, state: str = "") -> web.Response:
    body: dict[str, Any] = {"error": message, "code": code}
    if state:
        body["state"] = state
    return web.json_response(body, status=status)


def _driver_error(exc: DriverError) -> web.Response:
    state = str(exc.health)
    if isinstance(exc, UserActionError | BusyError):
        return _error(409, str(exc), type(exc).__name__, state)
    if isinstance(exc, TransportError) or state in ("offline", "no_device"):
        return _error(503, str(exc), type(exc).__name__, state)
    return _error(502, str(exc), type(exc).__name__, state)
