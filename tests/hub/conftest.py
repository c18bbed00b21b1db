"""A real hub (aiohttp on loopback) wired to a real Mosquitto, and a device-side publisher."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import paho.mqtt.client as mqtt
import pytest
from aiohttp import web
from paho.mqtt.enums import CallbackAPIVersion

from govedge.broker import free_port
from govedge.contract import (
    Channel,
    CommandAck,
    CommandAckData,
    Status,
    StatusData,
    Telemetry,
    encode,
    topic,
)
from hub.app import create_app
from hub.context import HUB_KEY, Hub
from hub.settings import HubConfig


@dataclass
class RunningHub:
    url: str
    hub: Hub
    app: web.Application
    runner: web.AppRunner
    admin_token: str
    session: aiohttp.ClientSession

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin_token}"}

    async def get(self, path: str, token: str | None = None, **params: Any) -> Any:
        async with self.session.get(
            self.url + path, headers=self.headers(token), params=params
        ) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def call(
        self, method: str, path: str, token: str | None = None, **kw: Any
    ) -> tuple[int, Any]:
        async with self.session.request(
            method, self.url + path, headers=self.headers(token), **kw
        ) as resp:
            return resp.status, await resp.json(content_type=None)

    async def wait_for(
        self, check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05
    ) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met in {timeout} s")
            await asyncio.sleep(interval)


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every hub test runs against both registry databases."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def hub_config(tmp_path: Path, mqtt_broker: Any, registry_url: str) -> Callable[..., HubConfig]:
    def make(**overrides: Any) -> HubConfig:
        base: dict[str, Any] = {
            "broker_url": mqtt_broker.url,
            "client_id": f"hub-{uuid.uuid4().hex[:8]}",
            "database_url": registry_url,
            "telemetry_url": f"sqlite:///{tmp_path / 'telemetry.db'}",
            "http_port": free_port(),
            "presence_interval_s": 0.2,
        }
        base.update(overrides)
        return HubConfig(**base)

    return make


@pytest.fixture
async def start_hub() -> AsyncIterator[Callable[..., Any]]:
    running: list[RunningHub] = []

    async def start(config: HubConfig) -> RunningHub:
        app = create_app(config)
        runner = web.AppRunner(app)
        await runner.setup()
        # Port 0: the kernel picks a free port at bind time, so parallel runs never collide.
        site = web.TCPSite(runner, config.http_host, 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        hub = app[HUB_KEY]
        token = await asyncio.to_thread(hub.tokens.create, "admin", "tests")
        assert await asyncio.to_thread(hub.link.connected.wait, 10)
        # Subscriptions are sent right after CONNACK; give the broker a moment to apply them.
        await asyncio.sleep(0.2)
        rh = RunningHub(
            f"http://{config.http_host}:{port}",
            hub,
            app,
            runner,
            token,
            aiohttp.ClientSession(),
        )
        running.append(rh)
        return rh

    yield start
    for rh in running:
        await rh.session.close()
        await rh.runner.cleanup()


@dataclass
class Device:
    """A device's side of the wire: publishes contract messages with QoS 1."""

    device_id: str
    client: mqtt.Client
    boot_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    seq: int = 0

    def send(self, msg: Any, channel: Channel, retain: bool = False) -> None:
        info = self.client.publish(
            topic(self.device_id, channel), encode(msg), qos=1, retain=retain
        )
        info.wait_for_publish(10)

    def telemetry(self, seq: int | None = None, **data: float) -> int:
        if seq is None:
            self.seq += 1
            seq = self.seq
        self.send(
            Telemetry(
                device_id=self.device_id,
                boot_id=self.boot_id,
                seq=seq,
                ts=time.time(),
                data=data or {"temperature": 20.0 + seq % 10},
            ),
            Channel.TELEMETRY,
        )
        return seq

    def status(self, online: bool, keepalive: int = 60, boot_id: str | None = None) -> None:
        self.seq += 1
        self.send(
            Status(
                device_id=self.device_id,
                boot_id=boot_id or self.boot_id,
                seq=self.seq,
                ts=time.time(),
                data=StatusData(online=online, keepalive=keepalive),
            ),
            Channel.STATUS,
            retain=True,
        )

    def ack(self, command_id: str, ok: bool = True, error: str = "") -> None:
        self.seq += 1
        self.send(
            CommandAck(
                device_id=self.device_id,
                boot_id=self.boot_id,
                seq=self.seq,
                ts=time.time(),
                data=CommandAckData(id=command_id, ok=ok, error=error),
            ),
            Channel.CMD_ACK,
        )


@pytest.fixture
def device_factory(mqtt_broker: Any) -> Any:
    clients: list[mqtt.Client] = []

    def make(device_id: str | None = None) -> Device:
        device_id = device_id or f"dev-{uuid.uuid4().hex[:8]}"
        client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=device_id)
        client.connect(mqtt_broker.host, mqtt_broker.port)
        client.loop_start()
        clients.append(client)
        return Device(device_id, client)

    yield make
    for client in clients:
        client.disconnect()
        client.loop_stop()


@pytest.fixture(scope="session")
def influx() -> Any:
    """A real influxd behind the v2-write forwarder (see influx_fixtures.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "influx_fixtures", Path(__file__).with_name("influx_fixtures.py")
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield from module.influx_session()
