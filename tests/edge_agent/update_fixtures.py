"""A real hub (releases on) and ``govedge agent launch`` processes over release slots, for the
update tests and bench/update.py."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from edge_agent.update.slots import Slots
from edge_agent.update.state import UpdateState
from hub.app import create_app
from hub.context import HUB_KEY, Hub
from hub.releases.settings import ReleasesConfig
from hub.settings import HubConfig
from provisioning.releases import build_bundle, release_signer, release_verifier

ROOT = Path(__file__).resolve().parents[2]
GOVEDGE = str(Path(sys.executable).with_name("govedge"))


def release_dir(
    base: Path, version: str, *, broken: bool = False, hangs: bool = False, pad: int = 0
) -> Path:
    """A release tree: bin/govedge-agent runs this source tree's agent; a ``broken`` one exits 3
    at once, one that ``hangs`` runs but never connects (never healthy)."""
    src = base / f"src-{version}"
    (src / "bin").mkdir(parents=True, exist_ok=True)
    entry = src / "bin" / "govedge-agent"
    if hangs:
        entry.write_text("#!/bin/sh\nexec sleep 600\n")
    elif broken:
        entry.write_text("#!/bin/sh\necho 'release cannot start: missing library' >&2\nexit 3\n")
    else:
        entry.write_text(
            f'#!/bin/sh\nexec {sys.executable} -m govedge --log-level info agent "$@"\n'
        )
    entry.chmod(0o755)
    (src / "VERSION").write_text(version + "\n")
    if pad:
        (src / "lib").mkdir(exist_ok=True)
        (src / "lib" / "payload.bin").write_bytes(os.urandom(pad))
    return src


def make_bundle(base: Path, key: Path, version: str, **kw: Any) -> Path:
    out = base / f"release-{version}.tar"
    build_bundle(release_dir(base, version, **kw), version, out, release_signer(key), ["agent"])
    return out


def first_install(root: Path, bundle: Path, pub: Path) -> Slots:
    slots = Slots(root)
    release = slots.install(bundle, release_verifier(pub))
    slots.switch(release.version)
    return slots


@dataclass
class Launched:
    proc: subprocess.Popen[bytes]
    slots: Slots
    log_path: Path

    def state(self) -> UpdateState:
        return self.slots.state()

    def power_cut(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.power_cut()


def launch(
    config: Path,
    root: Path,
    pub: Path,
    log_path: Path,
    *,
    confirm_after: float = 1.0,
    trial_timeout: float = 60.0,
    env: dict[str, str] | None = None,
) -> Launched:
    full = dict(os.environ)
    full["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), full.get("PYTHONPATH", "")]))
    full.update(env or {})
    out = log_path.open("ab")
    proc = subprocess.Popen(
        [
            GOVEDGE,
            "--log-level",
            "info",
            "agent",
            "launch",
            "--config",
            str(config),
            "--root",
            str(root),
            "--release-key",
            str(pub),
            "--confirm-after",
            str(confirm_after),
            "--trial-timeout",
            str(trial_timeout),
        ],
        stdout=out,
        stderr=out,
        cwd=ROOT,
        env=full,
        start_new_session=True,  # its own process group: a power cut kills launcher and agent
    )
    out.close()
    return Launched(proc, Slots(root), log_path)


@dataclass
class ReleaseHub:
    url: str
    hub: Hub
    runner: web.AppRunner
    token: str
    session: aiohttp.ClientSession

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
        async with self.session.request(method, self.url + path, headers=headers, **kw) as r:
            return r.status, await r.json(content_type=None)

    async def upload(self, bundle: Path) -> tuple[int, Any]:
        return await self.call(
            "POST",
            "/api/v1/releases",
            data=await asyncio.to_thread(bundle.read_bytes),
            headers={"Content-Type": "application/x-tar"},
        )

    async def close(self) -> None:
        await self.session.close()
        await self.runner.cleanup()


async def start_release_hub(tmp: Path, broker_url: str, pub: Path, **releases: Any) -> ReleaseHub:
    config = HubConfig(
        broker_url=broker_url,
        client_id=f"hub-{os.getpid()}-{time.monotonic_ns() % 10**8}",
        database_url=f"sqlite:///{tmp / 'registry.db'}",
        telemetry_url=f"sqlite:///{tmp / 'telemetry.db'}",
        auto_register=True,
        presence_interval_s=0.2,
        releases=ReleasesConfig(
            directory=str(tmp / "releases"), public_keys=[str(pub)], **releases
        ),
    )
    app = create_app(config)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    hub = app[HUB_KEY]
    token = await asyncio.to_thread(hub.tokens.create, "admin", "tests")
    assert await asyncio.to_thread(hub.link.connected.wait, 10)
    await asyncio.sleep(0.2)
    return ReleaseHub(f"http://127.0.0.1:{port}", hub, runner, token, aiohttp.ClientSession())


async def wait_for(check: Callable[[], Any], timeout: float, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.1)
