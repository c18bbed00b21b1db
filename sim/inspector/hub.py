"""A hub for the inspector demo and tests, in a thread of its own: HTTPS that asks for client
certificates, a fleet CA, the enrollment and inspection extensions, no broker (evidence travels
over HTTPS only)."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import urllib.request
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from govedge.broker import free_port
from provisioning.ca import FleetCA


def server_tls(ca: FleetCA, base: Path) -> ssl.SSLContext:
    """The hub's TLS: its server certificate, and client certificates of the fleet requested."""
    from provisioning.keys import write_private_key, write_public

    https = ca.issue_server(["127.0.0.1"], common_name="govedge-hub")
    assert https.key is not None
    write_private_key(base / "hub-https" / "key.pem", https.key)
    write_public(base / "hub-https" / "cert.pem", https.fullchain_pem())
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(base / "hub-https" / "cert.pem", base / "hub-https" / "key.pem")
    context.verify_mode = ssl.CERT_OPTIONAL
    context.load_verify_locations(cafile=str(ca.chain_path))
    return context


class InspectionHubThread:
    """A hub for inspection evidence, run in a thread of its own."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.ca: FleetCA | None = None
        self.url = ""
        self.admin = ""
        self.hub: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready: Future[None] = Future()
        self._thread: threading.Thread | None = None

    def start(self) -> InspectionHubThread:
        """Create the fleet CA under ``base`` and start the hub; returns once it serves (30 s at
        most).
        """
        self.base.mkdir(parents=True, exist_ok=True)
        self.ca = FleetCA.init(self.base / "ca")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.result(30)
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # noqa: BLE001 - any failure is handed to the thread waiting for the hub
            if not self._ready.done():
                self._ready.set_exception(exc)
        finally:
            loop.close()

    async def _main(self) -> None:
        from aiohttp import web

        import hub.app
        from hub.context import HUB_KEY
        from hub.settings import HubConfig

        assert self.ca is not None
        (self.base / "hub").mkdir(exist_ok=True)
        config = HubConfig(
            database_url=f"sqlite:///{self.base / 'hub' / 'registry.db'}",
            telemetry_url=f"sqlite:///{self.base / 'hub' / 'telemetry.db'}",
            http_port=free_port(),
            ca_dir=str(self.ca.directory),
        )
        saved = hub.app.EXTENSION_MODULES
        hub.app.EXTENSION_MODULES = ("hub.enrollment", "hub.inspection.setup")
        try:
            app = hub.app.create_app(config, start_mqtt=False)
        finally:
            hub.app.EXTENSION_MODULES = saved
        runner = web.AppRunner(app)
        await runner.setup()
        tls = server_tls(self.ca, self.base)
        await web.TCPSite(runner, "127.0.0.1", config.http_port, ssl_context=tls).start()
        self.hub = app[HUB_KEY]
        self.admin = await asyncio.to_thread(self.hub.tokens.create, "admin", "demo")
        self.url = f"https://127.0.0.1:{config.http_port}"
        self._stop = asyncio.Event()
        self._ready.set_result(None)
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the hub's API as the admin over its https URL: ``body`` as JSON, the answer
        decoded from JSON when it is JSON, raw bytes otherwise.
        """
        assert self.ca is not None
        context = ssl.create_default_context(cafile=str(self.ca.chain_path))
        request = urllib.request.Request(  # noqa: S310 - the simulated hub's own https URL
            self.url + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.admin}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, context=context, timeout=15) as resp:  # noqa: S310 - the simulated hub's own https URL
            data = resp.read()
            return (
                json.loads(data) if resp.headers.get_content_type() == "application/json" else data
            )

    def stop(self) -> None:
        """Stop the hub and wait up to 20 s for its thread; safe before start and twice."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:
                pass
        if self._thread is not None:
            self._thread.join(20)
            self._thread = None
