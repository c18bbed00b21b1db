"""Webhooks against real aiohttp receivers on loopback: signed, retried, dead-lettered."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from govedge.broker import free_port
from hub.alarms.tables import alarm_events, alarms
from hub.emergency.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

SECRET = "correct-horse-battery-staple"


@dataclass
class Receiver:
    """Answers 500 to the first ``failures`` posts, then 204; records what it got."""

    failures: int
    url: str = ""
    posts: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        good = verify(
            SECRET,
            request.headers.get(TIMESTAMP_HEADER, ""),
            body,
            request.headers.get(SIGNATURE_HEADER, ""),
        )
        event = json.loads(body)
        self.posts.append({"event": event, "signed": good})
        if not good:
            return web.Response(status=401)
        if len(self.posts) <= self.failures:
            return web.Response(status=500)
        self.accepted.append(event)
        return web.Response(status=204)


@pytest.fixture
async def receiver_factory() -> AsyncIterator[Any]:
    runners: list[web.AppRunner] = []

    async def make(failures: int) -> Receiver:
        rec = Receiver(failures)
        app = web.Application()
        app.router.add_post("/hook", rec.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        rec.url = f"http://127.0.0.1:{port}/hook"
        return rec

    yield make
    for runner in runners:
        await runner.cleanup()


async def test_failing_receiver_is_retried_then_delivered(
    hub_config: Any, start_hub: Any, alarm_writer: Any, receiver_factory: Any
) -> None:
    rh = await start_hub(hub_config())
    writer = alarm_writer(rh.hub.engine)
    flaky = await receiver_factory(failures=2)
    status, hook = await rh.call(
        "POST",
        "/api/v1/webhooks",
        json={"url": flaky.url, "secret": SECRET, "severities": ["critical", "major"]},
    )
    assert status == 201, hook
    assert "secret" not in hook and hook["severities"] == ["critical", "major"]
    await asyncio.to_thread(writer.raise_alarm, "gauge-9", severity="minor")  # filtered out
    alarm_id = await asyncio.to_thread(writer.raise_alarm, "gauge-1", severity="major")

    await rh.wait_for(lambda: flaky.accepted)
    assert all(p["signed"] for p in flaky.posts)
    assert len(flaky.posts) == 3  # two failures, then success
    event = flaky.accepted[0]
    assert event["alarm_id"] == alarm_id and event["kind"] == "raised"
    assert {p["event"]["cursor"] for p in flaky.posts} == {event["cursor"]}
    # The hub records the delivery once the receiver's answer is back, a moment after the
    # receiver saw the post.
    url = f"/api/v1/webhooks/{hook['id']}/deliveries"
    states: list[tuple[str, int]] = []
    for _ in range(200):
        states = [(d["state"], d["attempts"]) for d in (await rh.get(url))["items"]]
        if states != [("pending", 2)]:
            break
        await asyncio.sleep(0.05)
    assert states == [("delivered", 3)]
    dead = await rh.get("/api/v1/webhooks/dead-letters")
    assert dead["items"] == []


async def test_dead_receiver_is_dead_lettered_and_retry_requeues(
    hub_config: Any, start_hub: Any, alarm_writer: Any, receiver_factory: Any
) -> None:
    rh = await start_hub(hub_config())
    writer = alarm_writer(rh.hub.engine)
    dead_rec = await receiver_factory(failures=10**6)
    status, _ = await rh.call(
        "POST", "/api/v1/webhooks", json={"url": dead_rec.url, "secret": SECRET}
    )
    assert status == 201
    await asyncio.to_thread(writer.raise_alarm, "gauge-1", severity="critical")

    async def dead_letters() -> list[dict[str, Any]]:
        return list((await rh.get("/api/v1/webhooks/dead-letters"))["items"])

    dead = await rh.wait_for(dead_letters)
    assert len(dead) == 1
    assert dead[0]["attempts"] == 3 and dead[0]["last_status"] == 500
    assert dead[0]["last_error"] == "HTTP 500"
    assert len(dead_rec.posts) == 3

    # The receiver recovers; the operator retries the dead letter.
    dead_rec.failures = 0
    status, item = await rh.call("POST", f"/api/v1/webhooks/dead-letters/{dead[0]['id']}/retry")
    assert status == 200 and item["state"] in ("pending", "delivered")
    await rh.wait_for(lambda: dead_rec.accepted)
    assert await dead_letters() == []
    status, body = await rh.call("POST", f"/api/v1/webhooks/dead-letters/{dead[0]['id']}/retry")
    assert status == 400 and "not dead" in body["error"]


async def test_webhook_api_validates_and_manages(hub_config: Any, start_hub: Any) -> None:
    rh = await start_hub(hub_config())
    for body, word in (
        ({"url": "ftp://x", "secret": SECRET}, "url"),
        ({"url": "http://127.0.0.1:1/h", "secret": "short"}, "secret"),
        ({"url": "http://127.0.0.1:1/h", "secret": SECRET, "severities": ["loud"]}, "severit"),
        ({"url": "http://127.0.0.1:1/h", "secret": SECRET, "colour": 1}, "colour"),
    ):
        status, err = await rh.call("POST", "/api/v1/webhooks", json=body)
        assert status == 400 and word in err["error"], err
    status, hook = await rh.call(
        "POST", "/api/v1/webhooks", json={"url": "http://127.0.0.1:1/h", "secret": SECRET}
    )
    status, changed = await rh.call(
        "PUT", f"/api/v1/webhooks/{hook['id']}", json={"enabled": False}
    )
    assert status == 200 and changed["enabled"] is False
    assert [h["id"] for h in (await rh.get("/api/v1/webhooks"))["items"]] == [hook["id"]]
    status, _ = await rh.call("DELETE", f"/api/v1/webhooks/{hook['id']}")
    assert status == 200
    status, _ = await rh.call("GET", f"/api/v1/webhooks/{hook['id']}")
    assert status == 404
    operator = await asyncio.to_thread(rh.hub.tokens.create, "operator", "ops")
    status, _ = await rh.call("GET", "/api/v1/webhooks", token=operator)
    assert status == 403


@pytest.mark.parametrize("registry_url", ["postgresql"], indirect=True)
async def test_an_event_committed_after_a_higher_one_is_delivered(
    hub_config: Any, start_hub: Any, alarm_writer: Any, receiver_factory: Any
) -> None:
    """Several workers write alarm events: on PostgreSQL one may commit after a higher one. The
    subscription's cursor must not move past it meanwhile, or it is never delivered."""
    rh = await start_hub(hub_config())
    writer = alarm_writer(rh.hub.engine)
    rec = await receiver_factory(failures=0)
    status, _ = await rh.call("POST", "/api/v1/webhooks", json={"url": rec.url, "secret": SECRET})
    assert status == 201
    first = await asyncio.to_thread(writer.raise_alarm, "slow-1")
    await rh.wait_for(lambda: rec.accepted)

    def begin_slow() -> tuple[Any, Any]:
        conn = rh.hub.engine.connect()
        trans = conn.begin()
        conn.execute(alarms.update().where(alarms.c.id == first).values(updated_at=time.time()))
        conn.execute(
            alarm_events.insert().values(
                alarm_id=first,
                device_id="slow-1",
                rule_id="water-high",
                kind="updated",
                severity="major",
                ts=time.time(),
                payload={"id": first},
            )
        )
        return conn, trans

    conn, trans = await asyncio.to_thread(begin_slow)
    second = await asyncio.to_thread(writer.raise_alarm, "slow-2")  # committed first
    await asyncio.sleep(1.0)  # the delivery loop runs every 0.05 s meanwhile
    await asyncio.to_thread(trans.commit)
    await asyncio.to_thread(conn.close)
    await rh.wait_for(lambda: len(rec.accepted) >= 3)
    await asyncio.sleep(0.3)
    assert sorted((e["alarm_id"], e["kind"]) for e in rec.accepted) == sorted(
        [(first, "raised"), (first, "updated"), (second, "raised")]
    )
