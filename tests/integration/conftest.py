"""The whole chain on loopback: a fleet CA, Mosquitto running the configuration
provisioning.broker_config generates (mutual TLS, ACL), the hub over HTTPS with the enrollment
extension and its own TLS identity, and real agents with identities from the hub."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import hub.app
from edge_agent.agent import Agent
from edge_agent.runtime import build_agent
from govedge.broker import MosquittoBroker, free_port
from hub.context import HUB_KEY, Hub
from hub.enrollment import ENROLLMENT
from hub.settings import HubConfig
from provisioning.broker_config import write_broker_config
from provisioning.ca import FleetCA, IdentityPaths
from provisioning.device.client import enroll_device
from provisioning.enrollment import EnrollmentService

MODEL = "kiosk-v2"
WAIT = 15.0


@dataclass
class Stack:
    """The running parts, and helpers that wait on conditions (never on fixed times)."""

    base: Path
    ca: FleetCA
    broker: MosquittoBroker
    hub: Hub
    url: str
    client_tls: ssl.SSLContext
    session: aiohttp.ClientSession
    admin: str
    agents: list[tuple[Agent, asyncio.Event, asyncio.Task[None]]] = field(default_factory=list)

    @property
    def enrollment(self) -> EnrollmentService:
        service: EnrollmentService = self.hub.extensions[ENROLLMENT]
        return service

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.admin}"}
        async with self.session.request(
            method, self.url + path, headers=headers, ssl=self.client_tls, **kw
        ) as resp:
            return resp.status, await resp.json(content_type=None)

    async def enroll(self, device_id: str) -> IdentityPaths:
        """A claim token from the hub's CA, then the device's side of enrollment over HTTPS."""
        secret, _ = self.enrollment.create_token(MODEL, site="hall-3", device_id=device_id)
        return await enroll_device(
            self.url,
            token=secret,
            model=MODEL,
            device_id=device_id,
            out_dir=self.base / "devices" / device_id / "identity",
            ssl=self.client_tls,
        )

    def device_config(self, device_id: str, paths: IdentityPaths, **extra: Any) -> Path:
        folder = self.base / "devices" / device_id
        folder.mkdir(parents=True, exist_ok=True)
        public = folder / "bundle-signing.pub"
        public.write_bytes(self.ca.bundle_public_path.read_bytes())
        config: dict[str, Any] = {
            "device_id": device_id,
            "model": MODEL,
            "site": "hall-3",
            "state_dir": str(folder / "state"),
            "broker": {
                "url": f"mqtts://127.0.0.1:{self.broker.port}",
                "reconnect_min_s": 0.05,
                "reconnect_max_s": 0.5,
                "tls": {
                    "ca_file": str(paths.ca),
                    "cert_file": str(paths.cert),
                    "key_file": str(paths.key),
                },
            },
            "publish": {"health_interval_s": 30.0, "replay_rate_per_s": 0},
            "config_signing": {"public_key_file": str(public)},
            "identity": {"hub_url": self.url},
        }
        config.update(extra)
        path = folder / "device.json"
        path.write_text(json.dumps(config, indent=2))
        return path

    async def start_agent(self, config_path: Path) -> Agent:
        agent = build_agent(config_path)
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        self.agents.append((agent, stop, task))
        await self.until(lambda: agent.link.connected)
        return agent

    async def until(self, check: Callable[[], Any], timeout: float = WAIT) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s")
            await asyncio.sleep(0.05)

    async def stop_agents(self) -> None:
        for _, stop, _ in self.agents:
            stop.set()
        for _, _, task in self.agents:
            await asyncio.wait_for(task, WAIT)
        self.agents.clear()


@pytest.fixture
def fleet_dir(tmp_path: Path) -> Iterator[tuple[FleetCA, MosquittoBroker, Path]]:
    """A CA, the hub's identities (MQTT client, HTTPS server) and the broker it configures."""
    ca = FleetCA.init(tmp_path / "ca")
    ca.issue_service("hub").write(IdentityPaths(tmp_path / "hub-mqtt"))
    https = ca.issue_server(["127.0.0.1"], common_name="govedge-hub")
    assert https.key is not None
    from provisioning.keys import write_private_key, write_public

    write_private_key(tmp_path / "hub-https" / "key.pem", https.key)
    write_public(tmp_path / "hub-https" / "cert.pem", https.fullchain_pem())
    port = free_port()
    files = write_broker_config(ca, tmp_path / "broker", port=port, bind="127.0.0.1")
    broker = MosquittoBroker(port=port, extra_config=files.listener, workdir=tmp_path / "mosq")
    broker.workdir.mkdir()
    broker.start()
    yield ca, broker, tmp_path
    broker.close()


@pytest.fixture
async def stack(
    fleet_dir: tuple[FleetCA, MosquittoBroker, Path], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Stack]:
    ca, broker, base = fleet_dir
    monkeypatch.setattr(hub.app, "EXTENSION_MODULES", ("hub.enrollment",))
    mqtt_id = IdentityPaths(base / "hub-mqtt")
    config = HubConfig(
        broker_url=f"mqtts://127.0.0.1:{broker.port}",
        tls_ca=str(mqtt_id.ca),
        tls_cert=str(mqtt_id.cert),
        tls_key=str(mqtt_id.key),
        database_url=f"sqlite:///{base / 'registry.db'}",
        telemetry_url=f"sqlite:///{base / 'telemetry.db'}",
        http_port=free_port(),
        auto_register=True,
        presence_interval_s=0.2,
        ca_dir=str(ca.directory),
        config_signing_key=str(ca.bundle_key_path),
    )
    app = hub.app.create_app(config)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(base / "hub-https" / "cert.pem", base / "hub-https" / "key.pem")
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", config.http_port, ssl_context=server_tls).start()
    the_hub = app[HUB_KEY]
    admin = await asyncio.to_thread(the_hub.tokens.create, "admin", "tests")
    assert await asyncio.to_thread(the_hub.link.connected.wait, WAIT), "hub not on the broker"
    client_tls = ssl.create_default_context(cafile=str(ca.chain_path))
    session = aiohttp.ClientSession()
    running = Stack(
        base,
        ca,
        broker,
        the_hub,
        f"https://127.0.0.1:{config.http_port}",
        client_tls,
        session,
        admin,
    )
    yield running
    await running.stop_agents()
    await session.close()
    await runner.cleanup()
