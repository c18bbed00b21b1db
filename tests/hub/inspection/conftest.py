"""A hub over HTTPS that asks for client certificates, with a fleet CA and inspector terminals
whose evidence stores sign with keys the CA issued (the chain of tests/integration, without the
broker: evidence travels over HTTPS only)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import hub.app
from edge_agent.evidence.store import EvidenceStore
from edge_agent.evidence.sync import EvidenceSync, device_tls
from govedge.broker import free_port
from hub.context import HUB_KEY, Hub
from hub.settings import HubConfig
from provisioning.ca import FleetCA, IdentityPaths
from provisioning.keys import write_private_key, write_public


@dataclass
class Terminal:
    device_id: str
    identity: IdentityPaths
    store: EvidenceStore
    sync: EvidenceSync


@dataclass
class InspectionHub:
    base: Path
    ca: FleetCA
    hub: Hub
    url: str
    admin: str
    client_tls: ssl.SSLContext
    session: aiohttp.ClientSession
    port: int

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.admin}"}
        async with self.session.request(
            method, self.url + path, headers=headers, ssl=self.client_tls, **kw
        ) as resp:
            if resp.content_type == "application/zip":
                return resp.status, await resp.read()
            return resp.status, await resp.json(content_type=None)

    async def call_bytes(self, path: str) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {self.admin}"}
        async with self.session.get(self.url + path, headers=headers, ssl=self.client_tls) as r:
            return r.status, await r.read()

    def terminal(self, device_id: str, url: str | None = None) -> Terminal:
        from cryptography.hazmat.primitives.asymmetric import ec

        identity = self.ca.issue_device(device_id, model="inspector-h1").write(
            IdentityPaths(self.base / "devices" / device_id / "identity")
        )
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        key = load_pem_private_key(identity.key.read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        store = EvidenceStore(self.base / "devices" / device_id / "evidence", device_id, key)
        tls = device_tls(identity.ca, identity.cert, identity.key)
        return Terminal(device_id, identity, store, EvidenceSync(store, url or self.url, tls))

    async def task(self, task_id: str, device_id: str, items: int = 3) -> dict[str, Any]:
        status, body = await self.call(
            "POST",
            "/api/v1/inspection/tasks",
            json={
                "id": task_id,
                "site": f"site of {task_id}",
                "lat": 31.23,
                "lon": 121.47,
                "checklist": [
                    {"id": f"q{i}", "text": f"check {i}", "photo_required": True}
                    for i in range(items)
                ],
                "due": "2026-12-07",
                "inspector_id": "insp-007",
                "device_id": device_id,
            },
        )
        assert status == 201, body
        return dict(body)


@pytest.fixture
async def inspection_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[InspectionHub]:
    ca = FleetCA.init(tmp_path / "ca")
    https = ca.issue_server(["127.0.0.1"], common_name="govedge-hub")
    assert https.key is not None
    write_private_key(tmp_path / "hub-https" / "key.pem", https.key)
    write_public(tmp_path / "hub-https" / "cert.pem", https.fullchain_pem())
    monkeypatch.setattr(hub.app, "EXTENSION_MODULES", ("hub.enrollment", "hub.inspection.setup"))
    config = HubConfig(
        database_url=f"sqlite:///{tmp_path / 'hub' / 'registry.db'}",
        telemetry_url=f"sqlite:///{tmp_path / 'hub' / 'telemetry.db'}",
        http_port=free_port(),
        ca_dir=str(ca.directory),
    )
    (tmp_path / "hub").mkdir()
    app = hub.app.create_app(config, start_mqtt=False)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(
        tmp_path / "hub-https" / "cert.pem", tmp_path / "hub-https" / "key.pem"
    )
    server_tls.verify_mode = ssl.CERT_OPTIONAL  # terminals present their certificate
    server_tls.load_verify_locations(cafile=str(ca.chain_path))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", config.http_port, ssl_context=server_tls).start()
    the_hub = app[HUB_KEY]
    admin = await asyncio.to_thread(the_hub.tokens.create, "admin", "tests")
    client_tls = ssl.create_default_context(cafile=str(ca.chain_path))
    session = aiohttp.ClientSession()
    yield InspectionHub(
        tmp_path,
        ca,
        the_hub,
        f"https://127.0.0.1:{config.http_port}",
        admin,
        client_tls,
        session,
        config.http_port,
    )
    await session.close()
    await runner.cleanup()
