"""Updates: the time from a release rollout's start (stages 10 %, 50 %, 100 %) to 100 simulated
devices updated and reported healthy, beside the bare download time of the same bytes by the
same 100 devices through the same hub.

Set-up, all on loopback: a Mosquitto, a hub (releases on, in this process), a signed release
bundle, and 100 light updater clients. Each client is an MQTT session that answers the hub's
``update`` command with the device's own code: the resumable download
(edge_agent.update.download), the verification of every file into a new slot and the atomic
switch (edge_agent.update.slots), then the ``update_succeeded`` event. It does not restart a
process or wait out a health window (those are timed by the launcher tests, not here); the
rollout uses no health gate, so the figure is what the staging, the commands, the downloads and
the verification cost. Downloads run at most ``PARALLEL`` at a time, in both rounds.

    python -m bench.update
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import BenchResult
from hub.releases.setup import RELEASES

QUICK = os.environ.get("GOVEDGE_BENCH_QUICK") == "1"
DEVICES = 100
BUNDLE_BYTES = 256 * 1024 if QUICK else 1024 * 1024
PARALLEL = 8
TIMEOUT_S = 180.0


class SimUpdater:
    """One simulated device: MQTT session, update command, download, verify, switch, report."""

    def __init__(
        self, device_id: str, host: str, port: int, root: Path, verifier: Any, pool: Any
    ) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from edge_agent.update.slots import Slots

        self.device_id = device_id
        self.boot_id = uuid.uuid4().hex
        self.seq = 0
        self._lock = threading.Lock()
        self.slots = Slots(root)
        self.verifier = verifier
        self.pool = pool
        self.done = threading.Event()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=device_id
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()

    def _next(self) -> int:
        with self._lock:
            self.seq += 1
            return self.seq

    def _send(self, msg: Any, channel: str, retain: bool = False) -> None:
        from govedge.contract import encode, topic

        self.client.publish(topic(self.device_id, channel), encode(msg), qos=1, retain=retain)

    def _on_connect(self, client: Any, *_: Any) -> None:
        from govedge.contract import Channel, Status, StatusData, topic

        client.subscribe(topic(self.device_id, Channel.CMD), qos=1)
        self._send(
            Status(
                device_id=self.device_id,
                boot_id=self.boot_id,
                seq=self._next(),
                ts=time.time(),
                data=StatusData(online=True, keepalive=60),
            ),
            Channel.STATUS,
            retain=True,
        )

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        from govedge.contract import Command, decode_for_topic

        _, _, msg = decode_for_topic(message.topic, message.payload)
        if isinstance(msg, Command) and msg.data.name == "update":
            self.pool.submit(self._update, msg.data.id, dict(msg.data.args))

    def _update(self, command_id: str, args: dict[str, Any]) -> None:
        from edge_agent.update.download import download
        from govedge.contract import Channel, CommandAck, CommandAckData, Event, EventData

        version = str(args["version"])
        self._send(
            CommandAck(
                device_id=self.device_id,
                boot_id=self.boot_id,
                seq=self._next(),
                ts=time.time(),
                data=CommandAckData(id=command_id, ok=True, result={"state": "downloading"}),
            ),
            Channel.CMD_ACK,
        )
        self.slots.prepare()
        bundle = download(args["url"], self.slots.downloads / f"{version}.tar", args.get("size"))
        self.slots.install(bundle, self.verifier, version)
        self.slots.switch(version)
        self._send(
            Event(
                device_id=self.device_id,
                boot_id=self.boot_id,
                seq=self._next(),
                ts=time.time(),
                data=EventData(
                    kind="update_succeeded", message="healthy", attrs={"version": version}
                ),
            ),
            Channel.EVENT,
        )
        self.done.set()

    def close(self) -> None:
        """Disconnect the device's MQTT session and stop paho's loop thread."""
        self.client.disconnect()
        self.client.loop_stop()


async def _measure(folder: Path, broker: Any) -> tuple[float, float]:
    from edge_agent.update.download import download
    from edge_agent.update.slots import Slots
    from provisioning.releases import (
        build_bundle,
        release_signer,
        release_verifier,
        write_release_key,
    )

    key, pub = write_release_key(folder / "keys")
    signer, verifier = release_signer(key), release_verifier(pub)
    for version, size in (("1.0", 1024), ("2.0", BUNDLE_BYTES)):
        src = folder / f"src-{version}"
        (src / "bin").mkdir(parents=True)
        (src / "bin" / "govedge-agent").write_text("#!/bin/sh\nexit 0\n")
        (src / "bin" / "govedge-agent").chmod(0o755)
        (src / "lib").mkdir()
        (src / "lib" / "payload.bin").write_bytes(os.urandom(size))
        build_bundle(src, version, folder / f"{version}.tar", signer)

    hub = await _start_hub(folder, broker.url, pub)
    pool = ThreadPoolExecutor(PARALLEL)
    devices: list[SimUpdater] = []
    try:
        status, body = await hub.upload(folder / "2.0.tar")
        assert status == 201, body
        for i in range(DEVICES):
            root = folder / "devices" / f"d{i:03d}"
            slots = Slots(root)
            slots.install(folder / "1.0.tar", verifier)
            slots.switch("1.0")
            devices.append(
                SimUpdater(f"upd-{i:03d}", broker.host, broker.port, root, verifier, pool)
            )
        await _until(lambda: hub.hub.registry.online_count() >= DEVICES, 60)

        # Baseline: the same 100 downloads of the same bytes, same parallelism, same server.
        url = f"{hub.url}/api/v1/releases/2.0/bundle"
        size = (folder / "2.0.tar").stat().st_size
        bare_dir = folder / "bare"
        bare_dir.mkdir()
        started = time.perf_counter()
        await asyncio.gather(
            *(
                asyncio.get_running_loop().run_in_executor(
                    pool, download, url, bare_dir / f"{i}.tar", size
                )
                for i in range(DEVICES)
            )
        )
        bare = time.perf_counter() - started
        shutil.rmtree(bare_dir)

        started = time.perf_counter()
        status, ro = await hub.call(
            "POST",
            "/api/v1/releases/2.0/rollouts",
            json={"selector": {"site": "bench"}, "steps": [10, 50, 100], "health_gate_s": 0},
        )
        assert status == 201, ro
        svc = hub.hub.extensions[RELEASES]
        await _until(lambda: svc.rollout(ro["id"])["state"] != "running", TIMEOUT_S)
        rollout = time.perf_counter() - started
        final = svc.rollout(ro["id"])
        if final["state"] != "done" or final["progress"]["updated"] != DEVICES:
            raise RuntimeError(f"rollout ended {final['state']}: {final['progress']}")
        return rollout, bare
    finally:
        for d in devices:
            d.close()
        pool.shutdown(wait=True, cancel_futures=True)
        await hub.close()


async def _until(check: Any, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not within {limit_s} s")
        await asyncio.sleep(0.05)


class _Hub:
    def __init__(self, url: str, hub: Any, runner: Any, token: str, session: Any) -> None:
        self.url, self.hub, self.runner, self.token, self.session = url, hub, runner, token, session

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
        async with self.session.request(method, self.url + path, headers=headers, **kw) as r:
            return r.status, await r.json(content_type=None)

    async def upload(self, bundle: Path) -> tuple[int, Any]:
        data = await asyncio.to_thread(bundle.read_bytes)
        return await self.call(
            "POST", "/api/v1/releases", data=data, headers={"Content-Type": "application/x-tar"}
        )

    async def close(self) -> None:
        await self.session.close()
        await self.runner.cleanup()


async def _start_hub(folder: Path, broker_url: str, pub: Path) -> _Hub:
    import aiohttp
    from aiohttp import web

    from hub.app import create_app
    from hub.context import HUB_KEY
    from hub.releases.settings import ReleasesConfig
    from hub.settings import HubConfig

    config = HubConfig(
        broker_url=broker_url,
        client_id=f"bench-hub-{uuid.uuid4().hex[:8]}",
        database_url=f"sqlite:///{folder / 'registry.db'}",
        telemetry_url=f"sqlite:///{folder / 'telemetry.db'}",
        presence_interval_s=0.2,
        releases=ReleasesConfig(directory=str(folder / "releases"), public_keys=[str(pub)]),
    )
    app = create_app(config)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    hub = app[HUB_KEY]
    token = await asyncio.to_thread(hub.tokens.create, "admin", "bench")
    for i in range(DEVICES):
        await asyncio.to_thread(hub.registry.register, f"upd-{i:03d}", site="bench")
    if not await asyncio.to_thread(hub.link.connected.wait, 10):
        raise RuntimeError("the hub did not reach the broker")
    await asyncio.sleep(0.3)
    return _Hub(f"http://127.0.0.1:{port}", hub, runner, token, aiohttp.ClientSession())


def run() -> list[BenchResult]:
    """Run the over-the-air update benchmark against a private Mosquitto."""
    from govedge.broker import MosquittoBroker

    broker = MosquittoBroker()
    broker.start()
    folder = Path(tempfile.mkdtemp(prefix="govedge-update-bench-"))
    try:
        rollout, bare = asyncio.run(_measure(folder, broker))
    finally:
        broker.stop()
        shutil.rmtree(folder, ignore_errors=True)
    mib = BUNDLE_BYTES / 2**20
    return [
        BenchResult(
            name=f"rollout to {DEVICES} devices updated and healthy ({mib:.2g} MiB bundle)",
            figure=rollout,
            unit="s",
            baseline=bare,
            baseline_label=f"bare download of the same bytes by {DEVICES} devices",
            higher_is_better=False,
            notes=f"stages 10/50/100 %, no health gate, {PARALLEL} downloads at a time",
        )
    ]


if __name__ == "__main__":
    for result in run():
        print(result.line())
