"""The WebSocket feed: auth, replay from a cursor, live events, resume with nothing missed."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import aiohttp
import sqlalchemy as sa

from hub.emergency.feed import FeedNotifier

WS_TIMEOUT = 10.0


async def next_event(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    while True:
        msg = await asyncio.wait_for(ws.receive(), WS_TIMEOUT)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        data = json.loads(msg.data)
        if data["type"] == "event":
            return data


def ws_url(rh: Any, cursor: int | str, token: str | None = None) -> str:
    base = rh.url.replace("http://", "ws://")
    return f"{base}/api/v1/feed?cursor={cursor}&access_token={token or rh.admin_token}"


async def test_feed_refuses_without_token_or_role(hub_config: Any, start_hub: Any) -> None:
    rh = await start_hub(hub_config())
    async with rh.session.get(rh.url + "/api/v1/feed") as resp:
        assert resp.status == 401
    viewer = await asyncio.to_thread(rh.hub.tokens.create, "viewer", "screen")
    async with rh.session.get(rh.url + f"/api/v1/feed?access_token={viewer}") as resp:
        assert resp.status == 403
    status, body = await rh.call("GET", "/api/v1/feed?cursor=abc")
    assert status == 400 and "cursor" in body["error"]


async def test_resume_from_cursor_misses_nothing(
    hub_config: Any, start_hub: Any, alarm_writer: Any
) -> None:
    rh = await start_hub(hub_config())
    writer = alarm_writer(rh.hub.engine)
    emergency = await asyncio.to_thread(rh.hub.tokens.create, "emergency", "center")
    first = await asyncio.to_thread(writer.raise_alarm, "gauge-1")

    # Bearer header; replay of what happened before the client came.
    async with rh.session.ws_connect(
        rh.url.replace("http://", "ws://") + "/api/v1/feed?cursor=0",
        headers={"Authorization": f"Bearer {emergency}"},
    ) as ws:
        hello = json.loads((await asyncio.wait_for(ws.receive(), WS_TIMEOUT)).data)
        assert hello["type"] == "hello" and hello["cursor"] == 0
        replayed = await next_event(ws)
        assert replayed["kind"] == "raised" and replayed["alarm_id"] == first
        assert replayed["alarm"]["device_id"] == "gauge-1"
        # Live.
        await asyncio.to_thread(writer.update, first, 2.5, "critical")
        live = await next_event(ws)
        assert live["kind"] == "escalated" and live["alarm"]["severity"] == "critical"
        assert live["cursor"] > replayed["cursor"]
        last_seen = live["cursor"]

    # While the client is away, more happens.
    second = await asyncio.to_thread(writer.raise_alarm, "gauge-2")
    await asyncio.to_thread(writer.update, second, 3.0)
    await asyncio.to_thread(writer.clear, first)

    async with rh.session.ws_connect(ws_url(rh, last_seen, emergency)) as ws:
        got = [await next_event(ws) for _ in range(3)]
        assert [(e["alarm_id"], e["kind"]) for e in got] == [
            (second, "raised"),
            (second, "updated"),
            (first, "cleared"),
        ]
        cursors = [e["cursor"] for e in got]
        assert cursors == sorted(cursors) and cursors[0] > last_seen
        third = await asyncio.to_thread(writer.raise_alarm, "gauge-3")
        live = await next_event(ws)
        assert live["alarm_id"] == third and live["cursor"] > cursors[-1]
        await ws.send_str("ping")
        pong = json.loads((await asyncio.wait_for(ws.receive(), WS_TIMEOUT)).data)
        assert pong == {"type": "pong", "cursor": live["cursor"]}

    # "latest" skips the past; the snapshot gives what is in hand and where to resume.
    async with rh.session.ws_connect(ws_url(rh, "latest")) as ws:
        hello = json.loads((await asyncio.wait_for(ws.receive(), WS_TIMEOUT)).data)
        assert hello["cursor"] == live["cursor"]
    snap = await rh.get("/api/v1/feed/snapshot", emergency)
    assert snap["cursor"] == live["cursor"]
    assert {a["device_id"] for a in snap["items"]} == {"gauge-2", "gauge-3"}


async def test_many_events_stream_in_order_to_two_clients(
    hub_config: Any, start_hub: Any, alarm_writer: Any
) -> None:
    rh = await start_hub(hub_config())
    writer = alarm_writer(rh.hub.engine)
    async with (
        rh.session.ws_connect(ws_url(rh, 0)) as a,
        rh.session.ws_connect(ws_url(rh, 0)) as b,
    ):

        def burst() -> list[int]:
            return [writer.raise_alarm(f"s-{i}") for i in range(40)]

        ids = await asyncio.to_thread(burst)
        for ws in (a, b):
            got = [await next_event(ws) for _ in range(40)]
            assert [e["alarm_id"] for e in got] == ids
            assert len({e["cursor"] for e in got}) == 40


async def test_latest_is_the_newest_event_even_when_nobody_listened(
    hub_config: Any, start_hub: Any, alarm_writer: Any
) -> None:
    # With no client the notifier does not poll the table; "latest" must still be the newest.
    rh = await start_hub(hub_config())
    writer = alarm_writer(rh.hub.engine)
    await asyncio.to_thread(writer.raise_alarm, "quiet-1")
    await asyncio.to_thread(writer.raise_alarm, "quiet-2")
    await asyncio.sleep(0.3)
    snap = await rh.get("/api/v1/feed/snapshot")
    async with rh.session.ws_connect(ws_url(rh, "latest")) as ws:
        hello = json.loads((await asyncio.wait_for(ws.receive(), WS_TIMEOUT)).data)
    assert hello["cursor"] == snap["cursor"] > 0


async def test_rule_events_reach_the_feed_as_the_table_has_them(
    hub_config: Any, start_hub: Any, device_factory: Any
) -> None:
    # Events this worker's rules write go to its clients from memory; they must be exactly
    # what a client reading the table (another worker's client, or one resuming) gets.
    from hub.emergency.alarmview import events_after

    rh = await start_hub(hub_config())
    dev = device_factory()
    status, body = await rh.call("POST", "/api/v1/devices", json={"id": dev.device_id})
    assert status == 201, body
    rule = {
        "kind": "threshold",
        "metric": "level",
        "levels": [{"severity": "major", "raise": 5.0, "clear": 4.0}],
        "scope": {"ids": [dev.device_id]},
        "update_step": 1.0,
    }
    status, body = await rh.call("PUT", "/api/v1/rules/feed-level", json=rule)
    assert status in (200, 201), body
    async with rh.session.ws_connect(ws_url(rh, "latest")) as ws:
        hello = json.loads((await asyncio.wait_for(ws.receive(), WS_TIMEOUT)).data)
        for level in (6.0, 7.5, 3.0):
            dev.telemetry(level=level)
        got = [await next_event(ws) for _ in range(3)]
    assert [e["kind"] for e in got] == ["raised", "updated", "cleared"]
    stored = await asyncio.to_thread(events_after, rh.hub.engine, hello["cursor"])
    assert [{**e, "type": "event"} for e in json.loads(json.dumps(stored))] == got


async def test_an_event_is_reported_sent_once_the_woken_clients_had_their_turn() -> None:
    """The ingest's bulk lane steps aside until then (``sent``): it must come after the send."""
    notifier = FeedNotifier(sa.create_engine("sqlite://"))
    notifier._loop = asyncio.get_running_loop()
    order: list[str] = []

    async def client() -> None:
        await notifier.wait_beyond(0, WS_TIMEOUT)
        order.append("client sends")

    waiting = asyncio.create_task(client())
    await asyncio.sleep(0.01)
    sent = threading.Event()
    threading.Thread(
        target=notifier.publish,
        args=({"cursor": 1}, lambda: (order.append("sent"), sent.set())),
    ).start()
    await waiting
    for _ in range(500):
        if sent.is_set():
            break
        await asyncio.sleep(0.01)
    assert order == ["client sends", "sent"]
    closed = FeedNotifier(sa.create_engine("sqlite://"))  # no event loop: reported at once
    called: list[bool] = []
    closed.publish({"cursor": 1}, lambda: called.append(True))
    assert called == [True]
