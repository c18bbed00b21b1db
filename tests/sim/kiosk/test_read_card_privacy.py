"""The remote read_card command sends presence and card type only: no citizen field goes over
MQTT or into the hub's command table (a real hub, Mosquitto and the kiosk rig's agent)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import paho.mqtt.client as mqtt
from aiohttp import web
from paho.mqtt.enums import CallbackAPIVersion

from hub.app import create_app
from hub.context import HUB_KEY
from hub.settings import HubConfig
from sim.kiosk.people import person
from sim.kiosk.rig import KioskRig


def needles(key: str) -> list[bytes]:
    """Every way the person's fields could be written: UTF-8, JSON-escaped, dates either way."""
    who = person(key)
    texts = [who.name, who.id_number, who.address, who.id_number[6:14], who.birth_date]
    texts.append(f"{who.birth_date[:4]}-{who.birth_date[4:6]}-{who.birth_date[6:]}")
    out = [t.encode() for t in texts]
    out += [json.dumps(t)[1:-1].encode() for t in (who.name, who.address)]
    return out


async def test_read_card_command_carries_presence_and_type_only(
    rig: KioskRig, mqtt_broker: Any, tmp_path: Path
) -> None:
    captured: list[bytes] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"spy-{uuid.uuid4().hex[:6]}")
    client.on_message = lambda c, u, msg: captured.append(msg.topic.encode() + b" " + msg.payload)
    client.connect(mqtt_broker.host, mqtt_broker.port)
    client.subscribe("gov/v1/#", qos=1)
    client.loop_start()

    registry = tmp_path / "registry.db"
    config = HubConfig(
        broker_url=mqtt_broker.url,
        client_id=f"hub-{uuid.uuid4().hex[:8]}",
        database_url=f"sqlite:///{registry}",
        telemetry_url=f"sqlite:///{tmp_path / 'telemetry.db'}",
        http_port=0,
        presence_interval_s=0.2,
    )
    app = create_app(config)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    hub = app[HUB_KEY]
    token = await asyncio.to_thread(hub.tokens.create, "admin", "tests")
    headers = {"Authorization": f"Bearer {token}"}
    device = rig.settings.device_id
    try:
        assert await asyncio.to_thread(hub.link.connected.wait, 10)
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.post(f"{url}/api/v1/devices", json={"id": device}) as resp:
                assert resp.status == 201, await resp.text()
            rig.citizen.remove_card()
            await asyncio.sleep(0.3)
            rig.citizen.insert_card("astronaut")
            await _until(lambda: _online(http, url, device))
            results: dict[str, Any] = {}
            for label in ("with_card", "without_card"):
                async with http.post(
                    f"{url}/api/v1/commands",
                    json={"name": "read_card", "selector": {"ids": [device]}, "ttl_s": 30},
                ) as resp:
                    assert resp.status == 201, await resp.text()
                    command_id = (await resp.json())["commands"][0]
                results[label] = await _until(lambda c=command_id: _acknowledged(http, url, c))
                rig.citizen.remove_card()
            listing = await (
                await http.get(f"{url}/api/v1/commands", params={"device_id": device})
            ).text()
    finally:
        await runner.cleanup()
        client.loop_stop()
        client.disconnect()

    assert results["with_card"]["result"] == {
        "present": True,
        "card_type": "resident",
        "driver": "idcard",
    }
    assert results["without_card"]["result"]["present"] is False
    wire = b"\n".join(captured)
    assert b"read_card" in wire and b"card_type" in wire  # the traffic was captured
    table = "\n".join(sqlite3.connect(registry).iterdump()).encode()
    assert b"read_card" in table
    for needle in needles("astronaut"):
        assert needle not in wire, needle
        assert needle not in table, needle
        assert needle not in listing.encode(), needle


async def _online(http: aiohttp.ClientSession, url: str, device: str) -> bool:
    async with http.get(f"{url}/api/v1/devices/{device}") as resp:
        return resp.status == 200 and bool((await resp.json())["online"])


async def _acknowledged(http: aiohttp.ClientSession, url: str, command_id: str) -> Any:
    async with http.get(f"{url}/api/v1/commands/{command_id}") as resp:
        body = await resp.json()
    return body if body.get("state") in ("acknowledged", "failed") else None


async def _until(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met in {timeout} s")
