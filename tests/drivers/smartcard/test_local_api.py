"""The social-security card on the agent's local API: a real agent with the smartcard driver
over the private pcscd and vpcd; card events name the document, the read returns the fields."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp

from drivers.smartcard.pcsc import PcscContext
from edge_agent.runtime import build_agent
from sim.smartcard.holders import DECK
from sim.smartcard.pcscd import PrivatePcscd
from sim.smartcard.virtual import VirtualCard


async def _event(resp: aiohttp.ClientResponse, name: str) -> dict[str, Any]:
    while True:
        line = (await resp.content.readline()).decode()
        if line.startswith("data: "):
            event = json.loads(line[6:])
            if event.get("event") == name:
                return dict(event)


async def test_smartcard_read_and_events(
    ssc_card: VirtualCard, pcsc_stack: PrivatePcscd, mqtt_broker: Any, tmp_path: Path
) -> None:
    config = {
        "device_id": "kiosk-ssc-1",
        "model": "hall-kiosk",
        "state_dir": str(tmp_path / "state"),
        "broker": {"url": mqtt_broker.url},
        "drivers": [
            {
                "name": "ssc",
                "kind": "smartcard",
                "url": f"pcsc://{pcsc_stack.reader_names[0]}",
                "poll_interval_s": 0.2,
            }
        ],
        "local_api": {"host": "127.0.0.1", "port": 0},
    }
    path = tmp_path / "device.json"
    path.write_text(json.dumps(config))
    agent = build_agent(path)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        for _ in range(500):
            if agent.local_api.url and agent.supervisors["ssc"].polls > 1:
                break
            await asyncio.sleep(0.02)
        headers = {"Authorization": f"Bearer {agent.local_api.token}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.post(f"{agent.local_api.url}/v1/smartcard/read", json={}) as resp:
                assert resp.status == 200, await resp.text()
                body = await resp.json()
            holder = DECK["zhang"]
            assert body["driver"] == "ssc"
            assert body["card"]["name"] == holder.name
            assert body["card"]["id_number"] == holder.id_number
            async with http.get(f"{agent.local_api.url}/v1/events") as events:
                await asyncio.to_thread(ssc_card.remove)
                removed = await asyncio.wait_for(_event(events, "card_removed"), 10)
                assert removed["reader"] == "ssc" and removed["document"] == "social_security"
                async with http.post(f"{agent.local_api.url}/v1/smartcard/read", json={}) as resp:
                    assert resp.status == 409
                await asyncio.to_thread(ssc_card.insert)
                inserted = await asyncio.wait_for(_event(events, "card_inserted"), 10)
                assert inserted["document"] == "social_security"
    finally:
        stop.set()
        await task
    with PcscContext() as context:
        context.wait_for_card(pcsc_stack.reader_names[0], 5)
