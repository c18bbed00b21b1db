"""A real influxd (Debian's 1.6.7, v1 API only) and the v2-write forwarder in front of it.

influxdb-client writes through /api/v2/write?bucket=db/rp; InfluxDB 1.8+ maps that itself, 1.6
does not, so the forwarder does it the way 1.8's compatibility API does: bucket "db/rp" becomes
/write?db=db&rp=rp. Reads (/query) pass through unchanged.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from govedge.broker import free_port, wait_for_port

_PRECISION = {"ns": "n", "us": "u", "ms": "ms", "s": "s"}


@dataclass
class Influx:
    url: str  # influxd itself
    forwarder_url: str  # what influxdb-client talks to
    database: str


def start_influxd() -> tuple[subprocess.Popen[bytes], str, Path]:
    """Start influxd on fresh ports; a start that fails (a port taken between choosing and
    binding it, a slow start on loaded cores) is tried again, and its log shown if all fail."""
    binary = shutil.which("influxd") or "/usr/bin/influxd"
    base = Path(tempfile.mkdtemp(prefix="govedge-influx-"))
    log = base / "influxd.log"
    for _attempt in range(3):
        port, bind = free_port(), free_port()
        (base / "influxd.conf").write_text(
            f'reporting-disabled = true\nbind-address = "127.0.0.1:{bind}"\n'
            f'[meta]\n  dir = "{base}/meta"\n'
            f'[data]\n  dir = "{base}/data"\n  wal-dir = "{base}/wal"\n'
            "  query-log-enabled = false\n"
            # One influxd serves the whole run, every test with devices of its own: no cap on
            # the device_id tag's values or the series (past a cap, writes are refused).
            "  max-values-per-tag = 0\n  max-series-per-database = 0\n"
            f'[http]\n  bind-address = "127.0.0.1:{port}"\n  log-enabled = false\n'
            "[monitor]\n  store-enabled = false\n"
        )
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [binary, "-config", str(base / "influxd.conf")], stdout=out, stderr=out
            )
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if wait_for_port("127.0.0.1", port, 1):
                return proc, f"http://127.0.0.1:{port}", base
        proc.kill()
        proc.wait(10)
    tail = log.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"influxd did not start in three tries; its log ends:\n{tail}")


def forwarder_app(target: str) -> web.Application:
    async def write(request: web.Request) -> web.Response:
        bucket = request.query.get("bucket", "")
        db, _, rp = bucket.partition("/")
        params = {"db": db, "precision": _PRECISION.get(request.query.get("precision", "ns"), "n")}
        if rp:
            params["rp"] = rp
        body = await request.read()
        headers = {}
        if enc := request.headers.get("Content-Encoding"):
            headers["Content-Encoding"] = enc
        async with (
            aiohttp.ClientSession() as s,
            s.post(f"{target}/write", params=params, data=body, headers=headers) as resp,
        ):
            return web.Response(status=resp.status, body=await resp.read())

    async def passthrough(request: web.Request) -> web.Response:
        async with (
            aiohttp.ClientSession() as s,
            s.request(
                request.method,
                f"{target}{request.path}",
                params=request.query,
                data=await request.read(),
            ) as resp,
        ):
            return web.Response(
                status=resp.status, body=await resp.read(), content_type=resp.content_type
            )

    app = web.Application()
    app.router.add_post("/api/v2/write", write)
    app.router.add_route("*", "/query", passthrough)
    app.router.add_route("*", "/ping", passthrough)
    return app


def run_forwarder(target: str) -> tuple[str, threading.Event]:
    port = free_port()
    ready, stop = threading.Event(), threading.Event()

    def serve() -> None:
        async def main() -> None:
            runner = web.AppRunner(forwarder_app(target))
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.1)
            await runner.cleanup()

        asyncio.run(main())

    threading.Thread(target=serve, daemon=True).start()
    ready.wait(10)
    return f"http://127.0.0.1:{port}", stop


def influx_session() -> Iterator[Influx]:
    proc, url, base = start_influxd()
    forward, stop = run_forwarder(url)
    import urllib.request

    urllib.request.urlopen(
        urllib.request.Request(f"{url}/query", data=b"q=CREATE+DATABASE+govedge", method="POST"),
        timeout=10,
    ).read()
    yield Influx(url, forward, "govedge")
    stop.set()
    proc.terminate()
    proc.wait(30)
    shutil.rmtree(base, ignore_errors=True)
