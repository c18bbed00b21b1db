"""The simulated 一网通办 platform: applications in memory, answered in the platform's own
vocabulary (status codes 01..05, times with their +08:00 offset), behind a bearer token.

    GET  /api/applications/{applyNo}
         -> {"applyNo", "itemCode", "flow": [{"code", "time", "remark"}]}
            404 {"msg"} unknown; 401 {"msg"} bad token
    POST /api/applications  {"applyNo", "itemCode"} -> 201 (a back office receives one)
    POST /api/applications/{applyNo}/flow  {"code", "remark"?} -> 200 (the next step)

Faults for the tests: ``fail_with(status)`` answers every request with that status,
``garble(True)`` answers 200 with a body that is not the platform's JSON.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web

CST = timezone(timedelta(hours=8))
CODES = ("01", "02", "03", "04", "05")


@dataclass
class _Application:
    apply_no: str
    item_code: str
    flow: list[dict[str, str]] = field(default_factory=list)


class PlatformSimulator:
    """The platform on ``http://127.0.0.1:<port>`` in a thread of its own; a context manager."""

    def __init__(self, token: str = "platform-token", host: str = "127.0.0.1") -> None:  # noqa: S107 - the simulated platform's test token
        self.token = token
        self.host = host
        self.port = 0
        self.requests = 0
        self._apps: dict[str, _Application] = {}
        self._lock = threading.Lock()
        self._fail_status = 0
        self._garble = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        """The simulator's base URL; the port is known once it has started."""
        return f"http://{self.host}:{self.port}"

    # -- the platform's data ----------------------------------------------------------------

    def add(self, apply_no: str, item_code: str, at: datetime | None = None) -> None:
        """Receive application ``apply_no`` for ``item_code``: its flow starts at code 01 (at
        ``at``, or now, in +08:00).
        """
        with self._lock:
            app = _Application(apply_no, item_code)
            app.flow.append(_step("01", at))
            self._apps[apply_no] = app

    def step(self, apply_no: str, code: str, remark: str = "", at: datetime | None = None) -> None:
        """Append a step with status ``code`` to an application's flow.

        Raises ValueError for a code outside 01..05 and KeyError for an unknown application.
        """
        if code not in CODES:
            raise ValueError(f"code must be one of {', '.join(CODES)}")
        with self._lock:
            self._apps[apply_no].flow.append(_step(code, at, remark))

    def fail_with(self, status: int) -> None:
        """Answer every request with HTTP ``status`` from now on; 0 ends the fault."""
        self._fail_status = status

    def garble(self, on: bool) -> None:
        """Answer reads with 200 and an HTML page instead of the platform's JSON, or stop."""
        self._garble = on

    # -- HTTP -------------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/applications/{no}", self._get)
        app.router.add_post("/api/applications", self._create)
        app.router.add_post("/api/applications/{no}/flow", self._flow)
        return app

    def _check(self, request: web.Request) -> web.Response | None:
        self.requests += 1
        if self._fail_status:
            return web.json_response({"msg": "platform fault"}, status=self._fail_status)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"msg": "unauthorized"}, status=401)
        return None

    async def _get(self, request: web.Request) -> web.Response:
        refused = self._check(request)
        if refused is not None:
            return refused
        if self._garble:
            return web.Response(text="<html>maintenance</html>", content_type="text/html")
        with self._lock:
            app = self._apps.get(request.match_info["no"])
            if app is None:
                return web.json_response({"msg": "no such application"}, status=404)
            body: dict[str, Any] = {
                "applyNo": app.apply_no,
                "itemCode": app.item_code,
                "flow": list(app.flow),
            }
        return web.json_response(body)

    async def _create(self, request: web.Request) -> web.Response:
        refused = self._check(request)
        if refused is not None:
            return refused
        data = await request.json()
        self.add(str(data["applyNo"]), str(data["itemCode"]))
        return web.json_response({"applyNo": data["applyNo"]}, status=201)

    async def _flow(self, request: web.Request) -> web.Response:
        refused = self._check(request)
        if refused is not None:
            return refused
        data = await request.json()
        try:
            self.step(request.match_info["no"], str(data["code"]), str(data.get("remark", "")))
        except KeyError:
            return web.json_response({"msg": "no such application"}, status=404)
        except ValueError as exc:
            return web.json_response({"msg": str(exc)}, status=400)
        return web.json_response({"ok": True})

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> PlatformSimulator:
        """Serve in a thread; returns once listening, or raises RuntimeError after 10 s."""
        self._thread = threading.Thread(target=self._run, name="platform-sim", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the platform simulator did not start")
        return self

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(self._app(), access_log=None)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, self.host, 0)
        loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def stop(self) -> None:
        """Stop serving (the port closes); calling it twice is harmless."""
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)

    def __enter__(self) -> PlatformSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _step(code: str, at: datetime | None, remark: str = "") -> dict[str, str]:
    when = (at or datetime.now(CST)).astimezone(CST).replace(microsecond=0)
    return {"code": code, "time": when.isoformat(), "remark": remark}
