"""The rig's citizen control over HTTP on loopback (for ``govedge sim visit`` and the app's
developers): one POST per control, JSON bodies, JSON answers.

=============================  =========================================
POST /insert_card              {"person": "astronaut"} (or a deck key)
POST /remove_card              {}
POST /face                     {"who": "astronaut" | "photo:P" | "still:P" | "nobody"}
POST /follow_challenges        {"on": true}
POST /act                      {"action": "blink" | "turn_left" | "turn_right"}
POST /place_finger             {"person": "astronaut", "finger"?: "right-index"}
POST /lift_finger              {}
POST /paper_out                {"on": true}
POST /cover_open               {"on": true}
POST /show_qr                  {"text": "..."}
GET  /state                    what the citizen did and saw (prompts, verdicts)
GET  /rig                      where the agent's API, token file and this endpoint are
=============================  =========================================

Errors are ``{"error": "..."}`` with 400. Loopback only; it drives simulators, no real device.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sim.kiosk.citizen import Citizen, CitizenError

Control = Callable[[Citizen, dict[str, Any]], Any]


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise CitizenError(f"{key} (a string) is required")
    return value


def _flag(body: dict[str, Any]) -> bool:
    value = body.get("on", True)
    if not isinstance(value, bool):
        raise CitizenError("on must be true or false")
    return value


CONTROLS: dict[str, Control] = {
    "insert_card": lambda c, b: c.insert_card(_text(b, "person")),
    "remove_card": lambda c, b: c.remove_card(),
    "face": lambda c, b: c.face(_text(b, "who")),
    "follow_challenges": lambda c, b: c.follow_challenges(_flag(b)),
    "act": lambda c, b: c.act(_text(b, "action")),
    "place_finger": lambda c, b: c.place_finger(
        _text(b, "person"), b.get("finger") or "right-index"
    ),
    "lift_finger": lambda c, b: c.lift_finger(),
    "paper_out": lambda c, b: c.paper_out(_flag(b)),
    "cover_open": lambda c, b: c.cover_open(_flag(b)),
    "show_qr": lambda c, b: c.show_qr(_text(b, "text")),
}


class ControlServer:
    """aiohttp on 127.0.0.1:``port`` (0: a free port)."""

    def __init__(self, citizen: Citizen, port: int = 0) -> None:
        self.citizen = citizen
        self.port = port
        self.url = ""
        self._runner: web.AppRunner | None = None

    def make_app(self) -> web.Application:
        """The control app: a POST route per citizen control, GET /state and GET /rig."""
        app = web.Application(client_max_size=64 * 1024)
        for name, control in CONTROLS.items():
            app.router.add_post(f"/{name}", self._handler(name, control))
        app.router.add_get("/state", self._state)
        app.router.add_get("/rig", self._rig)
        return app

    async def start(self) -> None:
        """Serve on 127.0.0.1; with port 0 the free port chosen is stored in ``port``."""
        self._runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        """Stop serving; safe before start and twice."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _handler(
        self, name: str, control: Control
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            body: dict[str, Any] = {}
            if request.can_read_body:
                try:
                    loaded = await request.json()
                except (json.JSONDecodeError, UnicodeDecodeError):
                    return web.json_response({"error": "body is not JSON"}, status=400)
                if not isinstance(loaded, dict):
                    return web.json_response({"error": "body must be an object"}, status=400)
                body = loaded
            try:
                result = await asyncio.to_thread(control, self.citizen, body)
            except CitizenError as exc:
                return web.json_response({"error": str(exc)}, status=400)
            answer: dict[str, Any] = {"ok": True, "control": name}
            if result is not None:
                answer["result"] = result
            return web.json_response(answer)

        return handle

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response(await asyncio.to_thread(self.citizen.state))

    async def _rig(self, request: web.Request) -> web.Response:
        return web.json_response(self.citizen.rig.describe())
