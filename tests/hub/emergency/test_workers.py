"""Two hub workers on one database: the feed and the webhooks hold across them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from aiohttp import web

from govedge.broker import free_port
from hub.emergency.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

SECRET = "two-workers-one-secret"


async def test_feed_and_webhooks_across_two_workers(
    hub_config: Any, start_hub: Any, alarm_writer: Any
) -> None:
    a = await start_hub(hub_config())
    b = await start_hub(hub_config())
    writer = alarm_writer(a.hub.engine)

    got: list[int] = []

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        assert verify(
            SECRET,
            request.headers[TIMESTAMP_HEADER],
            body,
            request.headers[SIGNATURE_HEADER],
        )
        got.append(json.loads(body)["cursor"])
        return web.Response(status=204)

    receiver = web.Application()
    receiver.router.add_post("/hook", receive)
    runner = web.AppRunner(receiver)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        status, _ = await a.call(
            "POST",
            "/api/v1/webhooks",
            json={"url": f"http://127.0.0.1:{port}/hook", "secret": SECRET},
        )
        assert status == 201
        _, team = await a.call(
            "POST",
            "/api/v1/resources",
            json={"kind": "team", "name": "Team 1", "location": {"lat": 31.2, "lon": 121.5}},
        )
        url = b.url.replace("http://", "ws://") + f"/api/v1/feed?access_token={b.admin_token}"
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            await ws.receive()  # hello
            # Written through worker A (store and A's API), streamed by worker B.
            alarm_id = await asyncio.to_thread(writer.raise_alarm, "gauge-7")
            status, _ = await a.call(
                "POST", f"/api/v1/alarms/{alarm_id}/assign", json={"team": team["id"]}
            )
            assert status == 200
            kinds = []
            cursors = []
            while len(kinds) < 2:
                data = json.loads((await asyncio.wait_for(ws.receive(), 10)).data)
                kinds.append(data["kind"])
                cursors.append(data["cursor"])
            assert kinds == ["raised", "assigned"]
        # Both workers run the delivery loop; each event is delivered once.
        await a.wait_for(lambda: len(got) >= 2)
        await asyncio.sleep(0.5)
        assert sorted(got) == cursors
    finally:
        await runner.cleanup()
