"""The alarm feed and the consoles' live view across three workers (``govedge hub --workers 3``).

Every alarm event, whichever worker decided it (a reading taken by that worker, or an operator's
action through its API), reaches a feed client on any worker once, in cursor order, and again
once across a reconnect to another worker with the last cursor. The operator console's stream
(fleet counts) shows births and wills taken by any worker. A real Mosquitto, PostgreSQL and
influxd; the hub runs as an operator would run it (a subprocess, JSON logs on stderr).

Alarms come from single messages (a threshold rule without ``for_s``) and single API calls, so
the outcome does not depend on rule state shared between workers, only on what this test is
about: what each worker shows of what the others wrote.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion

import hub.emergency.setup as setup
from govedge.contract import Status, StatusData, Telemetry, encode
from govedge.contract.topics import Channel, topic
from hub.alarms.tables import alarm_events, alarms
from tests.hub.test_workers import GOVEDGE, ROOT, Supervised, _http, _ports_free_from

DEVICES = 12
RULES = {"fw-a": ("a", "major"), "fw-b": ("b", "critical"), "fw-c": ("c", "minor")}


class Fleet:
    """The devices' side: one MQTT client publishing their readings and statuses with QoS 1."""

    def __init__(self, broker: Any, prefix: str) -> None:
        self.devices = [f"{prefix}-{i}" for i in range(DEVICES)]
        self.boot_id = uuid.uuid4().hex
        self.seq = 0
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"{prefix}-fleet"
        )
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _send(self, messages: list[tuple[str, Channel, Any, bool]]) -> None:
        infos = [
            self.client.publish(topic(d, ch), encode(msg), qos=1, retain=retain)
            for d, ch, msg, retain in messages
        ]
        for info in infos:
            info.wait_for_publish(30)
            assert info.is_published()

    def reading(self, metric: str, value: float) -> None:
        """One reading of ``metric`` from every device."""
        out = []
        for d in self.devices:
            self.seq += 1
            msg = Telemetry(
                device_id=d,
                boot_id=self.boot_id,
                seq=self.seq,
                ts=time.time(),
                data={metric: value},
            )
            out.append((d, Channel.TELEMETRY, msg, False))
        self._send(out)

    def status(self, devices: list[str], online: bool) -> None:
        """A birth (online) or a will (offline) of each of ``devices``, retained as devices do."""
        out = []
        for d in devices:
            self.seq += 1
            data = StatusData(online=online, keepalive=600)
            msg = Status(device_id=d, boot_id=self.boot_id, seq=self.seq, ts=time.time(), data=data)
            out.append((d, Channel.STATUS, msg, True))
        self._send(out)

    def close(self) -> None:
        for d in self.devices:  # no retained status left for the next test
            self.client.publish(topic(d, Channel.STATUS), b"", qos=1, retain=True).wait_for_publish(
                10
            )
        self.client.disconnect()
        self.client.loop_stop()


class FeedClient:
    """A feed client as the emergency console is one: it keeps the last cursor it received and
    reconnects with it."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.events: list[dict[str, Any]] = []
        self.hellos: list[dict[str, Any]] = []
        self.ports: list[int] = []
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def cursor(self) -> int:
        return self.events[-1]["cursor"] if self.events else 0

    async def connect(self, port: int) -> None:
        self._session = aiohttp.ClientSession()
        url = f"ws://127.0.0.1:{port}/api/v1/feed?cursor={self.cursor}&access_token={self.token}"
        ws = await self._session.ws_connect(url)
        hello = json.loads((await asyncio.wait_for(ws.receive(), 10)).data)
        assert hello["type"] == "hello" and hello["cursor"] == self.cursor, hello
        self.hellos.append(hello)
        self.ports.append(port)
        self._task = asyncio.create_task(self._read(ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            if data["type"] == "event":
                self.events.append(data)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._session is not None:
            await self._session.close()


class ConsoleClient:
    """The operator console's live view: every counts message of ``/api/v1/console/stream``."""

    def __init__(self, port: int, token: str) -> None:
        self.url = f"ws://127.0.0.1:{port}/api/v1/console/stream?access_token={token}"
        self.counts: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._session = aiohttp.ClientSession()

    async def start(self) -> None:
        ws = await self._session.ws_connect(self.url)
        self._task = asyncio.create_task(self._read(ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            self.counts.append(json.loads(msg.data)["total"])

    def last(self) -> dict[str, Any]:
        return self.counts[-1] if self.counts else {}

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self._session.close()


def ws_feed_url(rh: Any, cursor: int) -> str:
    base = rh.url.replace("http://", "ws://")
    return f"{base}/api/v1/feed?cursor={cursor}&access_token={rh.admin_token}"


async def next_feed_event(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    while True:
        msg = await ws.receive()
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        data = json.loads(msg.data)
        if data["type"] == "event":
            return data


async def _until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.1)


def _stored_events(url: str) -> list[tuple[int, str, int, str, str]]:
    """The alarm event log: (cursor, kind, alarm id, device, rule), in cursor order."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    alarm_events.c.id,
                    alarm_events.c.kind,
                    alarm_events.c.alarm_id,
                    alarm_events.c.device_id,
                    alarm_events.c.rule_id,
                ).order_by(alarm_events.c.id)
            ).all()
    finally:
        engine.dispose()
    return [(int(r[0]), r[1], int(r[2]), r[3], r[4]) for r in rows]


def _received(client: FeedClient) -> list[tuple[int, str, int, str, str]]:
    return [
        (e["cursor"], e["kind"], e["alarm_id"], e["device_id"], e["rule_id"]) for e in client.events
    ]


def _metric(port: int, name: str) -> float | None:
    """The sum of a metric's samples on this worker's ``/metrics``; None when absent."""
    status, body = _http(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    text = body.decode() if isinstance(body, bytes) else str(body)
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((name + "{", name + " "))
    ]
    return sum(values) if values else None


def _watched(port: int) -> float | None:
    """Devices whose telemetry this worker's alarm lane has subscribed to."""
    return _metric(port, "govedge_hub_alarm_lane_devices")


def _ingested(port: int) -> float:
    """Messages this worker accepted (its own ``/metrics``)."""
    return _metric(port, "govedge_hub_ingested_total") or 0.0


async def test_every_worker_streams_every_workers_alarm_events_once_in_order(
    tmp_path: Path, mqtt_broker: Any, postgres_url: str, influx: Any
) -> None:
    prefix = f"fw-{uuid.uuid4().hex[:6]}"
    base_port = _ports_free_from(3)
    ports = [base_port + i for i in range(3)]
    host = influx.forwarder_url.split("//")[1]
    (tmp_path / "devices.json").write_text(
        json.dumps([{"id": f"{prefix}-{i}"} for i in range(DEVICES)])
    )
    config = tmp_path / "hub.json"
    config.write_text(
        json.dumps(
            {
                "broker_url": mqtt_broker.url,
                "client_id": f"hub-{prefix}",
                "shared_group": f"g{prefix[3:]}",
                "database_url": postgres_url,
                "telemetry_url": f"influxdb://{host}/govedge/autogen",
                "http_port": base_port,
                "presence_interval_s": 0.5,
                "devices_file": str(tmp_path / "devices.json"),
            }
        )
    )
    sup = Supervised(config, 3)
    fleet: Fleet | None = None
    clients: list[Any] = []
    try:
        for port in ports:
            await asyncio.to_thread(
                sup.wait_for, lambda p=port: _http(f"http://127.0.0.1:{p}/")[0] == 200, 120, "up"
            )
        created = await asyncio.to_thread(
            subprocess.run,
            [*GOVEDGE, "hub", "--config", str(config), "token", "create", "--role", "admin"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        )
        token = created.stdout.strip()

        def api(port: int, method: str, path: str, body: Any = None) -> Any:
            data = json.dumps(body if body is not None else {}).encode()
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1{path}",
                data=data if method in ("POST", "PUT") else None,
                method=method,
            )
            req.add_header("Content-Type", "application/json")
            req.add_header("Authorization", f"Bearer {token}")
            with urllib.request.urlopen(req, timeout=10) as resp:
                assert 200 <= resp.status < 300, (method, path, resp.status)
                return json.loads(resp.read())

        # The bundled rule for devices offline two minutes would fire on a slow run: not here.
        await asyncio.to_thread(api, ports[0], "DELETE", "/rules/device-offline")
        for rule_id, (metric, severity) in RULES.items():
            rule = {
                "kind": "threshold",
                "scope": {"ids": [f"{prefix}-{i}" for i in range(DEVICES)]},
                "metric": metric,
                "direction": "above",
                "levels": [{"severity": severity, "raise": 10.0, "clear": 5.0}],
            }
            await asyncio.to_thread(api, ports[0], "PUT", f"/rules/{rule_id}", rule)
        for port in ports:  # each worker has reloaded the rules: its alarm lane watches them
            await asyncio.to_thread(
                sup.wait_for, lambda p=port: _watched(p) == DEVICES, 60, f"rules on {port}"
            )
        for port in ports:
            await asyncio.to_thread(
                sup.wait_for,
                lambda p=port: (
                    (h := _http(f"http://127.0.0.1:{p}/api/v1/health", token)[1])
                    and h["ingest"]["broker_connected"]
                ),
                60,
                f"worker on {port} connected",
            )
        await asyncio.sleep(1.0)  # subscriptions go out right after CONNACK

        consoles = [ConsoleClient(ports[0], token), ConsoleClient(ports[2], token)]
        clients.extend(consoles)
        for console in consoles:
            await console.start()
        await _until(lambda: all(c.counts for c in consoles), 20, "first counts")
        assert [c.last()["online"] for c in consoles] == [0, 0]

        one, three = FeedClient(token), FeedClient(token)  # on worker 1, on worker 3
        clients.extend([one, three])
        await one.connect(ports[0])
        await three.connect(ports[2])

        fleet = Fleet(mqtt_broker, prefix)
        # Births, each taken by one worker: every console shows the whole fleet online.
        await asyncio.to_thread(fleet.status, fleet.devices, True)
        await _until(lambda: all(c.last().get("online") == DEVICES for c in consoles), 30, "online")

        # 1. Live: one alarm per device, each raised by the worker that took its reading.
        await asyncio.to_thread(fleet.reading, "a", 20.0)
        await _until(lambda: len(one.events) >= DEVICES and len(three.events) >= DEVICES, 60, "a")

        # 2. Both clients go away; meanwhile the workers raise more and an operator acknowledges
        # the first alarms through worker 2. The clients come back on the other worker.
        await one.close()
        await three.close()
        await asyncio.to_thread(fleet.reading, "b", 20.0)
        raised_a = [e["alarm_id"] for e in one.events if e["kind"] == "raised"]
        for alarm_id in raised_a[: DEVICES // 2]:
            await asyncio.to_thread(api, ports[1], "POST", f"/alarms/{alarm_id}/ack")
        await asyncio.sleep(0.5)
        await one.connect(ports[2])
        await three.connect(ports[0])

        # 3. Live again, on the other workers: readings, and operators on all three workers.
        send_c = asyncio.create_task(asyncio.to_thread(fleet.reading, "c", 20.0))
        for i, alarm_id in enumerate(raised_a[DEVICES // 2 :]):
            await asyncio.to_thread(api, ports[i % 3], "POST", f"/alarms/{alarm_id}/ack")
        for i, alarm_id in enumerate(raised_a[: DEVICES // 2]):
            await asyncio.to_thread(api, ports[(i + 1) % 3], "POST", f"/alarms/{alarm_id}/clear")
        await send_c
        # Wills of a third of the fleet: every console shows them offline.
        offline = fleet.devices[: DEVICES // 3]
        await asyncio.to_thread(fleet.status, offline, False)

        # The log holds 3 raises per device, an ack per device and half as many clears.
        expected = DEVICES * 3 + DEVICES + DEVICES // 2

        def complete() -> bool:
            return len(one.events) >= expected and len(three.events) >= expected

        await _until(complete, 60, "every event on both clients")
        await _until(
            lambda: all(
                c.last().get("offline") == len(offline)
                and c.last().get("online") == DEVICES - len(offline)
                for c in consoles
            ),
            30,
            "offline",
        )
        await asyncio.sleep(2.0)  # time for a copy or a late event to arrive, if any would

        stored = await asyncio.to_thread(_stored_events, postgres_url)
        assert len(stored) == expected
        kinds = [s[1] for s in stored]
        assert kinds.count("raised") == 3 * DEVICES
        assert kinds.count("acknowledged") == DEVICES
        assert kinds.count("cleared") == DEVICES // 2
        assert {(s[3], s[4]) for s in stored if s[1] == "raised"} == {
            (d, r) for d in fleet.devices for r in RULES
        }
        # Each client: every event once, in cursor order, across its reconnect to the other
        # worker — the same stream as the log itself.
        assert _received(one) == stored
        assert _received(three) == stored
        assert one.ports == [ports[0], ports[2]] and three.ports == [ports[2], ports[0]]
        # The messages really were spread: every worker took some of them.
        assert all(await asyncio.gather(*(asyncio.to_thread(_ingested, p) for p in ports)))
        # The consoles' counts only ever moved forward: no worker showed an older state.
        for console in consoles:
            online = [c["online"] for c in console.counts]
            peak = online.index(DEVICES)
            assert online[: peak + 1] == sorted(online[: peak + 1])
            assert online[peak:] == sorted(online[peak:], reverse=True)
            assert [c["devices"] for c in console.counts] == [DEVICES] * len(console.counts)
    finally:
        for c in clients:
            await c.close()
        if fleet is not None:
            await asyncio.to_thread(fleet.close)
        assert await asyncio.to_thread(sup.stop) == 0


@pytest.mark.parametrize("registry_url", ["postgresql"], indirect=True)
async def test_an_event_committed_late_by_another_writer_is_streamed_in_its_place(
    hub_config: Any, start_hub: Any, alarm_writer: Any
) -> None:
    """On PostgreSQL ids are handed out at insert and become visible at commit, so with several
    workers writing, an event may appear after a higher one. The feed waits for it, however
    long its writer takes to commit (here longer than ``gap_wait_s``), and goes past a hole at
    once when the insert that made it was rolled back."""
    rh = await start_hub(hub_config())
    writer = alarm_writer(rh.hub.engine)
    first = await asyncio.to_thread(writer.raise_alarm, "late-1")
    async with rh.session.ws_connect(ws_feed_url(rh, 0)) as ws:
        assert (await asyncio.wait_for(next_feed_event(ws), 10))["alarm_id"] == first

        def begin_slow(kind: str) -> tuple[Any, Any]:
            """Another worker's alarm transaction: its event is in, its commit late."""
            conn = rh.hub.engine.connect()
            trans = conn.begin()
            conn.execute(alarms.update().where(alarms.c.id == first).values(updated_at=time.time()))
            conn.execute(
                alarm_events.insert().values(
                    alarm_id=first,
                    device_id="late-1",
                    rule_id="water-high",
                    kind=kind,
                    severity="major",
                    ts=time.time(),
                    payload={"id": first},
                )
            )
            return conn, trans

        conn, trans = await asyncio.to_thread(begin_slow, "updated")
        second = await asyncio.to_thread(writer.raise_alarm, "late-2")  # committed first
        gap_wait_s = setup.SETTINGS.gap_wait_s
        # A console starting now (its board, then the events after the snapshot's cursor) must
        # not start past the event still to commit: the snapshot waits for it.
        snapshot = asyncio.create_task(rh.get("/api/v1/feed/snapshot"))
        with pytest.raises(TimeoutError):  # the feed holds back what comes after the hole
            await asyncio.wait_for(next_feed_event(ws), gap_wait_s * 3)
        assert not snapshot.done()
        await asyncio.to_thread(trans.commit)
        await asyncio.to_thread(conn.close)
        got = [await asyncio.wait_for(next_feed_event(ws), 10) for _ in range(2)]
        assert [(e["alarm_id"], e["kind"]) for e in got] == [(first, "updated"), (second, "raised")]
        assert got[0]["cursor"] < got[1]["cursor"]
        assert (await asyncio.wait_for(snapshot, 10))["cursor"] == got[1]["cursor"]

        # A rolled-back insert leaves a hole for good: the feed goes past it without waiting.
        conn, trans = await asyncio.to_thread(begin_slow, "updated")
        await asyncio.to_thread(trans.rollback)
        await asyncio.to_thread(conn.close)
        third = await asyncio.to_thread(writer.raise_alarm, "late-3")
        started = time.monotonic()
        event = await asyncio.wait_for(next_feed_event(ws), 10)
        assert event["alarm_id"] == third and event["cursor"] > got[1]["cursor"] + 1
        assert time.monotonic() - started < gap_wait_s
