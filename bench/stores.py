"""Real PostgreSQL and influxd for the benches, started as the tests start them.

PostgreSQL: a private cluster on a free loopback port (as root, owned by the postgres user),
durability off as in the tests' cluster. influxd: Debian's 1.6 speaks only the v1 API, so a small
forwarder process maps influxdb-client's /api/v2/write?bucket=db/rp onto /write?db=db&rp=rp, as
InfluxDB 1.8's compatibility API does (tests/hub/influx_fixtures.py); reads pass through.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from govedge.broker import free_port, wait_for_port


@dataclass
class Postgres:
    """A running cluster; ``url`` is the base (append ``/DBNAME``)."""

    url: str
    proc: subprocess.Popen[bytes]
    base: Path

    def database(self, name: str) -> str:
        """Create database ``name`` (once: a second call fails) and return its SQLAlchemy URL."""
        import sqlalchemy as sa

        admin = sa.create_engine(self.url + "/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        admin.dispose()
        return f"{self.url}/{name}"

    def close(self) -> None:
        """Stop the cluster and delete its files."""
        self.proc.terminate()
        self.proc.wait(30)
        shutil.rmtree(self.base, ignore_errors=True)


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    return found[-1]


def start_postgres() -> Postgres:
    """A throwaway PostgreSQL cluster on a free port, run as the postgres user under root."""
    base = Path(tempfile.mkdtemp(prefix="govedge-bench-pg-"))
    data, port = base / "data", free_port()
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if prefix:
        shutil.chown(base, "postgres", "postgres")
        base.chmod(0o755)
    subprocess.run(  # noqa: S603 - argv of the installed initdb, no shell
        [*prefix, _pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "govedge", "-E", "UTF8"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    # synchronous_commit=off matches the hub's SQLite (WAL, synchronous=NORMAL): a crash of the
    # machine may lose the last commits but never corrupts; fsync stays on, as in production.
    settings = ["synchronous_commit=off"]
    args = ["-h", "127.0.0.1", *(x for s in settings for x in ("-c", s))]
    cmd = [*prefix, _pg_bin("postgres"), "-D", str(data), "-p", str(port), "-k", str(base), *args]
    proc = subprocess.Popen(  # noqa: S603 - argv of the installed postgres, no shell
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if not wait_for_port("127.0.0.1", port, 30):
        proc.kill()
        raise RuntimeError("PostgreSQL did not start")
    pg = Postgres(f"postgresql+psycopg://govedge@127.0.0.1:{port}", proc, base)
    for _ in range(50):  # accepting connections a moment after the port opens
        try:
            pg.database("bench_ready")
            break
        except Exception:  # noqa: BLE001 - any failure here means not ready yet; retried
            time.sleep(0.2)
    return pg


@dataclass
class Influx:
    """influxd and its v2-write forwarder; ``bucket_url`` gives a hub's telemetry_url."""

    url: str
    forwarder: str
    proc: subprocess.Popen[bytes]
    base: Path
    forwarder_proc: subprocess.Popen[bytes] | None = None
    databases: list[str] = field(default_factory=list)

    def database(self, name: str) -> str:
        """Create database ``name`` (idempotent in InfluxDB 1.x); the hub's telemetry_url for it."""
        body = f"q=CREATE+DATABASE+{name}".encode()
        req = urllib.request.Request(f"{self.url}/query", data=body, method="POST")  # noqa: S310 - http URL of the influxd this bench started
        urllib.request.urlopen(req, timeout=10).read()  # noqa: S310 - http URL of the influxd this bench started
        return f"influxdb://{self.forwarder.split('//')[1]}/{name}/autogen"

    def pids(self) -> list[int]:
        """The process ids of influxd and its forwarder, for the benches' CPU sampling."""
        return [p.pid for p in (self.proc, self.forwarder_proc) if p is not None]

    def close(self) -> None:
        """Stop the forwarder and influxd and delete their files."""
        for proc in (self.forwarder_proc, self.proc):
            if proc is not None:
                proc.terminate()
                proc.wait(30)
        shutil.rmtree(self.base, ignore_errors=True)


_FORWARDER = r"""
import asyncio, sys
import aiohttp
from aiohttp import web
target, port = sys.argv[1], int(sys.argv[2])
PRECISION = {"ns": "n", "us": "u", "ms": "ms", "s": "s"}
async def main():
    session = aiohttp.ClientSession()
    async def write(request):
        db, _, rp = request.query.get("bucket", "").partition("/")
        params = {"db": db, "precision": PRECISION.get(request.query.get("precision", "ns"), "n")}
        if rp:
            params["rp"] = rp
        headers = {}
        if enc := request.headers.get("Content-Encoding"):
            headers["Content-Encoding"] = enc
        async with session.post(f"{target}/write", params=params, data=await request.read(),
                                headers=headers) as resp:
            return web.Response(status=resp.status, body=await resp.read())
    async def passthrough(request):
        async with session.request(request.method, f"{target}{request.path}",
                                   params=request.query, data=await request.read()) as resp:
            return web.Response(status=resp.status, body=await resp.read(),
                                content_type=resp.content_type)
    app = web.Application()
    app.router.add_post("/api/v2/write", write)
    app.router.add_route("*", "/query", passthrough)
    app.router.add_route("*", "/ping", passthrough)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()
asyncio.run(main())
"""


def start_influx() -> Influx:
    """A throwaway influxd on free ports, with its v2-write forwarder in its own process."""
    import sys

    binary = shutil.which("influxd") or "/usr/bin/influxd"
    base = Path(tempfile.mkdtemp(prefix="govedge-bench-influx-"))
    port, bind = free_port(), free_port()
    (base / "influxd.conf").write_text(
        f'reporting-disabled = true\nbind-address = "127.0.0.1:{bind}"\n'
        f'[meta]\n  dir = "{base}/meta"\n'
        f'[data]\n  dir = "{base}/data"\n  wal-dir = "{base}/wal"\n'
        "  query-log-enabled = false\n"
        f'[http]\n  bind-address = "127.0.0.1:{port}"\n  log-enabled = false\n'
        "[monitor]\n  store-enabled = false\n"
    )
    with (base / "influxd.log").open("ab") as out:
        cmd = [binary, "-config", str(base / "influxd.conf")]
        proc = subprocess.Popen(cmd, stdout=out, stderr=out)  # noqa: S603 - argv of influxd found on PATH, no shell
    if not wait_for_port("127.0.0.1", port, 60):
        proc.kill()
        raise RuntimeError(f"influxd did not start; see {base / 'influxd.log'}")
    url = f"http://127.0.0.1:{port}"
    fport = free_port()
    forwarder = subprocess.Popen([sys.executable, "-c", _FORWARDER, url, str(fport)])  # noqa: S603 - argv of this Python, no shell
    if not wait_for_port("127.0.0.1", fport, 30):
        forwarder.kill()
        proc.kill()
        raise RuntimeError("the InfluxDB v2-write forwarder did not start")
    return Influx(url, f"http://127.0.0.1:{fport}", proc, base, forwarder)
