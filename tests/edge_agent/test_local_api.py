"""The local device API: bearer token from a 0600 file, request/response per capability, the SSE
event stream, Prometheus metrics; on loopback TCP and on a Unix socket."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path
from typing import Any

import aiohttp

from edge_agent.runtime import build_agent


class Kiosk:
    """A card reader and a printer at the driver interface; card presence follows ``present``."""

    kind = "scripted"

    def __init__(self) -> None:
        from drivers.base import HealthReport
        from govedge.health import HealthState

        self.report = HealthReport(HealthState.ONLINE)
        self.present = 0.0
        self.printed: list[Any] = []

    def open(self) -> None: ...

    def close(self) -> None: ...

    def poll(self) -> dict[str, float]:
        return {"card_present": self.present}

    def health(self) -> Any:
        return self.report

    def read_card(self) -> dict[str, Any]:
        from drivers.errors import UserActionError

        if not self.present:
            raise UserActionError("no card on the reader")
        return {"name": "张三丰", "id_number": "110105199001010023", "photo": b"\xff\xd8jpeg"}

    def print_receipt(self, receipt: Any) -> None:
        self.printed.append(receipt)


async def _start(agent: Any) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    for _ in range(500):  # at most 10 s
        if not (agent.local_api is None or agent.local_api.runner is None):
            break
        await asyncio.sleep(0.02)
    return stop, task


async def _next_event(resp: aiohttp.ClientResponse, name: str) -> dict[str, Any]:
    while True:
        line = (await resp.content.readline()).decode()
        if line.startswith("data: "):
            event = json.loads(line[6:])
            if event.get("event") == name:
                return event


async def test_local_api_over_loopback(mqtt_broker, make_config, scripted, fake, tmp_path: Path):
    drivers, factory = scripted
    kiosk = drivers["kiosk"] = Kiosk()
    token_file = tmp_path / "run" / "api.token"
    path = make_config(
        "api-1",
        mqtt_broker.url,
        [fake("kiosk", 0.05)],
        local_api={"host": "127.0.0.1", "port": 0, "token_file": str(token_file)},
    )
    agent = build_agent(path, driver_factory=factory)
    stop, task = await _start(agent)
    try:
        api = agent.local_api
        mode = stat.S_IMODE(os.stat(token_file).st_mode)
        assert mode == 0o600
        token = token_file.read_text().strip()
        auth = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(api.url) as http:
            for headers in ({}, {"Authorization": "Bearer wrong"}):
                async with http.get("/v1/health", headers=headers) as resp:
                    assert resp.status == 401
            async with http.get("/metrics") as resp:
                assert resp.status == 401

            async with http.get("/v1/health", headers=auth) as resp:
                assert resp.status == 200
                body = await resp.json()
            assert body["device_id"] == "api-1" and body["drivers"]["kiosk"]["kind"] == "modbus"

            async with http.post("/v1/card/read", headers=auth) as resp:
                assert resp.status == 409  # no card: a person must act
                assert (await resp.json())["state"] == "user_error"

            async with http.get("/v1/events", headers=auth) as events:
                assert events.status == 200
                kiosk.present = 1.0
                inserted = await asyncio.wait_for(_next_event(events, "card_inserted"), 5)
                assert inserted["driver"] == "kiosk"
                kiosk.present = 0.0
                await asyncio.wait_for(_next_event(events, "card_removed"), 5)
                kiosk.present = 1.0
                await asyncio.wait_for(_next_event(events, "card_inserted"), 5)

            async with http.post("/v1/card/read", headers=auth) as resp:
                assert resp.status == 200
                card = (await resp.json())["card"]
            assert card["id_number"] == "110105199001010023"  # the app gets the real data
            assert card["photo"] == "/9hqcGVn"

            receipt = {"header": ["test"], "lines": ["hello"]}
            async with http.post("/v1/print", headers=auth, json={"receipt": receipt}) as resp:
                assert resp.status == 200
            assert kiosk.printed == [receipt]
            async with http.post("/v1/print", headers=auth, json={"receipt": 3}) as resp:
                assert resp.status == 400

            async with http.post(
                "/v1/fingerprint/verify", headers=auth, json={"template_id": 1}
            ) as resp:
                assert resp.status == 404  # no fingerprint module on this device

            async with http.get("/metrics", headers=auth) as resp:
                text = await resp.text()
            assert "govedge_agent_messages_produced_total" in text
            assert 'govedge_agent_driver_state{driver="kiosk",state="online"} 1.0' in text
            assert "govedge_agent_reconnects_total" in text
    finally:
        stop.set()
        await task


async def test_local_api_over_a_unix_socket(mqtt_broker, make_config, scripted, fake, tmp_path):
    drivers, factory = scripted
    drivers["kiosk"] = Kiosk()
    path = make_config(
        "api-2",
        mqtt_broker.url,
        [fake("kiosk", 0.5)],
        local_api={"unix_socket": str(tmp_path / "agent.sock")},
    )
    agent = build_agent(path, driver_factory=factory)
    stop, task = await _start(agent)
    try:
        token = agent.local_api.token_path.read_text().strip()
        connector = aiohttp.UnixConnector(path=str(tmp_path / "agent.sock"))
        async with aiohttp.ClientSession(connector=connector) as http:
            async with http.get("http://agent/v1/health") as resp:
                assert resp.status == 401
            async with http.get(
                "http://agent/v1/health", headers={"Authorization": f"Bearer {token}"}
            ) as resp:
                assert resp.status == 200
                assert (await resp.json())["device_id"] == "api-2"
    finally:
        stop.set()
        await task
