"""Evidence sync throughput: 500 signed records with 2 MB photos from a terminal's store to the
hub over HTTPS with the device certificate (tus uploads by content hash, then the records,
each signature and link checked by the hub), beside a plain HTTPS upload of the same photo bytes
(one PUT each, as many at a time as the sync sends, written and fsync'd by a bare aiohttp
handler) to a server on the same machine
with the same TLS, in the same run. Goal: at least 0.7 of the plain upload.

Run alone with ``python -m bench.inspector`` (``GOVEDGE_BENCH_QUICK=1``: 50 records, not 500).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path

from bench.common import BenchResult

QUICK = os.environ.get("GOVEDGE_BENCH_QUICK") == "1"
RECORDS = 50 if QUICK else 500
PHOTO_BYTES = 2 * 1024 * 1024


class PlainUploadServer:
    """A bare HTTPS upload endpoint in a thread: PUT /plain/<name> streams the body to a file."""

    def __init__(self, folder: Path, tls: ssl.SSLContext) -> None:
        self.folder = folder
        self.tls = tls
        self.url = ""
        self._ready: Future[None] = Future()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> PlainUploadServer:
        """Serve on a free loopback port (``url`` set once up); raises if not up within 15 s."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        self._ready.result(15)
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        from aiohttp import web

        from govedge.broker import free_port

        async def put(request: web.Request) -> web.Response:
            path = self.folder / request.match_info["name"]
            with path.open("wb") as fh:
                async for block in request.content.iter_chunked(256 * 1024):
                    fh.write(block)
                fh.flush()
                await asyncio.to_thread(os.fsync, fh.fileno())  # off the loop, as the hub does
            return web.Response(status=204)

        app = web.Application()
        app.router.add_put("/plain/{name}", put)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port, ssl_context=self.tls).start()
        self.url = f"https://127.0.0.1:{port}"
        self._stop = asyncio.Event()
        self._ready.set_result(None)
        await self._stop.wait()
        await runner.cleanup()

    def stop(self) -> None:
        """Stop serving and join the server's thread (up to 15 s)."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)


async def _plain(url: str, tls: ssl.SSLContext, photos: list[Path], parallel: int) -> float:
    """PUT every photo, ``parallel`` at a time over kept connections, as the sync does."""
    import aiohttp

    gate = asyncio.Semaphore(parallel)

    async def put(session: aiohttp.ClientSession, path: Path) -> None:
        async with gate:
            data = await asyncio.to_thread(path.read_bytes)
            async with session.put(f"{url}/plain/{path.name}", data=data, ssl=tls) as r:
                assert r.status == 204

    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(put(session, path) for path in photos))
    return time.perf_counter() - started


async def _sync(sync: object) -> tuple[float, int]:
    import aiohttp

    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        report = await sync.sync_once(session)  # type: ignore[attr-defined]
    return time.perf_counter() - started, report.acked_through


def run() -> list[BenchResult]:
    """Run the inspector-terminal benchmark: evidence records synced to a hub."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from edge_agent.evidence.store import EvidenceStore
    from edge_agent.evidence.sync import PARALLEL, EvidenceSync, device_tls
    from provisioning.device.identity import IdentityPaths
    from sim.inspector.hub import InspectionHubThread, server_tls

    base = Path(tempfile.mkdtemp(prefix="bench-inspector-"))
    hub = InspectionHubThread(base / "hub").start()
    plain = None
    try:
        assert hub.ca is not None
        device = "insp-bench"
        hub.call(
            "POST",
            "/api/v1/inspection/tasks",
            {
                "id": "BENCH",
                "site": "bench",
                "lat": 31.2,
                "lon": 121.4,
                "checklist": [{"id": "q", "text": "q"}],
                "due": "2026-12-31",
                "inspector_id": "insp-bench",
                "device_id": device,
            },
        )
        ident = hub.ca.issue_device(device).write(IdentityPaths(base / "identity"))
        key = load_pem_private_key(ident.key.read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        store = EvidenceStore(base / "terminal", device, key)
        for _ in range(RECORDS):
            store.append(
                task_id="BENCH",
                item_id="q",
                answer="pass",
                note="",
                inspector_id="insp-bench",
                photo=os.urandom(PHOTO_BYTES),
                position=None,
                since_contact_s=None,
            )
        photos = [store.photo_path(r.photo_sha256) for r in store.pending()]
        copies = base / "plain-src"
        copies.mkdir()
        for p in photos:  # the same bytes, kept apart: the sync drops acknowledged photos
            shutil.copyfile(p, copies / p.name)
        tls = device_tls(ident.ca, ident.cert, ident.key)
        plain = PlainUploadServer(base / "plain-dst", server_tls(hub.ca, base / "plain")).start()
        os.sync()  # the set-up's writes are on disk before either side is timed
        sync_s, acked = asyncio.run(_sync(EvidenceSync(store, hub.url, tls)))
        os.sync()
        plain_s = asyncio.run(_plain(plain.url, tls, sorted(copies.iterdir()), PARALLEL))
        assert acked == RECORDS, f"the hub acknowledged {acked} of {RECORDS}"
        total_mb = RECORDS * PHOTO_BYTES / 1e6
        return [
            BenchResult(
                f"evidence sync, {RECORDS} records with 2 MB photos",
                total_mb / sync_s,
                "MB/s",
                total_mb / plain_s,
                f"plain HTTPS PUT of the same bytes, {PARALLEL} at a time like the sync",
                goal=">= 0.7 of the plain upload",
                notes=f"{RECORDS / sync_s:.1f} records/s, each signature and link checked",
            )
        ]
    finally:
        if plain is not None:
            plain.stop()
        hub.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    for result in run():
        print(result.line())
