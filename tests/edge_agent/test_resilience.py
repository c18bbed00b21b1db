"""Nothing that reached the outbox is lost: kill -9 of the broker, kill -9 of the agent, and a long
outage with 100 k queued messages. The receiver is a QoS 1 subscriber with a persistent session;
it must see every (device, boot id, seq) at least once, the first copies in order."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

from edge_agent.runtime import build_agent
from govedge.broker import free_port, wait_for_port
from govedge.contract import Status, decode

OUTAGE_S = float(os.environ.get("GOVEDGE_TEST_OUTAGE_S", "1.0"))
"""How long the broker stays down in the outage test (a knob: set it higher for a soak)."""


def _stream(col: Any, device: str) -> list[tuple[str, int]]:
    """(boot id, seq) of every non-status message of ``device``, in arrival order."""
    with col.lock:
        return [
            (m.boot_id, m.seq)
            for _, m in col.messages
            if m.device_id == device and not isinstance(m, Status)
        ]


def _check_exactly_once_in_order(keys: list[tuple[str, int]], last_seq: int) -> int:
    """Every seq 1..last_seq arrived under one boot id, first copies in increasing seq order;
    returns the number of duplicates (QoS 1 may repeat; the hub drops them by key)."""
    first: dict[tuple[str, int], int] = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    ordered = sorted(first, key=first.__getitem__)
    seqs = [s for _, s in ordered]
    assert seqs == list(range(1, last_seq + 1)), (
        f"missing {sorted(set(range(1, last_seq + 1)) - set(seqs))[:20]}, "
        f"out of order at {next((i for i in range(1, len(seqs)) if seqs[i] < seqs[i - 1]), None)}"
    )
    return len(keys) - len(first)


async def _wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return bool(predicate())


async def test_broker_killed_mid_stream_loses_nothing(
    persistent_broker, make_config, collector_factory, scripted, fake
):
    broker = persistent_broker
    device = "res-broker"
    col = collector_factory(broker.host, broker.port, f"gov/v1/{device}/#", f"col-{device}")
    await asyncio.sleep(1.2)  # the broker's autosave now holds the collector's session
    _, factory = scripted
    path = make_config(device, broker.url, [fake("counter", 0.02)])
    agent = build_agent(path, driver_factory=factory)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        assert await _wait(lambda: len(_stream(col, device)) >= 30, 10)
        await asyncio.to_thread(broker.kill)
        await asyncio.sleep(0.4)  # the agent keeps producing into the outbox
        queued_during_outage = agent.outbox.queued
        await asyncio.to_thread(broker.start)
        assert await _wait(lambda: agent.link.counters.reconnects >= 1, 10)
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        await task
    last_seq = agent.outbox.seq
    assert queued_during_outage > 0
    assert agent.outbox.queued == 0  # drained before the graceful stop ended
    assert await _wait(
        lambda: {s for _, s in _stream(col, device)} >= set(range(1, last_seq + 1)), 15
    )
    dups = _check_exactly_once_in_order(_stream(col, device), last_seq)
    assert {b for b, _ in _stream(col, device)} == {agent.boot_id}
    assert dups <= last_seq  # bounded: at most one resend per message


async def test_agent_killed_mid_stream_loses_nothing(
    mqtt_broker, modbus_sim, make_config, collector_factory, agent_process, tmp_path: Path
):
    device = "res-agent"
    col = collector_factory(mqtt_broker.host, mqtt_broker.port, f"gov/v1/{device}/#")
    drivers = [
        {
            "name": "climate",
            "kind": "modbus",
            "url": modbus_sim.url,
            "options": {"profile": "sht20", "unit": 1},
            "poll_interval_s": 0.02,
        }
    ]
    path = make_config(device, mqtt_broker.url, drivers, publish={"drain_on_stop_s": 5.0})
    first = agent_process(path)
    first.start()
    assert await _wait(lambda: len(_stream(col, device)) >= 40, 15), first.log_path.read_text()
    first.kill()  # kill -9 mid-stream
    second = agent_process(path)
    second.start()
    boots = lambda: {b for b, _ in _stream(col, device)}  # noqa: E731
    assert await _wait(lambda: len(boots()) == 2 and len(_stream(col, device)) >= 80, 15)
    assert second.stop() == 0  # graceful: drains the outbox, then says offline
    db = sqlite3.connect(tmp_path / f"{device}.state" / "outbox.sqlite3")
    last_seq = int(db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()[0])
    left = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    db.close()
    assert left == 0
    assert await _wait(lambda: len({s for _, s in _stream(col, device)}) >= last_seq, 10)
    _check_exactly_once_in_order(_stream(col, device), last_seq)
    per_seq_boots: dict[int, set[str]] = {}
    for boot, seq in _stream(col, device):
        per_seq_boots.setdefault(seq, set()).add(boot)
    assert all(len(b) == 1 for b in per_seq_boots.values())  # a seq is never reused by a boot


class _Proxy:
    """socat forwarding a port to the broker: the agent's link; stopping it is the outage."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target = target_port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "socat",
                f"TCP-LISTEN:{self.port},bind=127.0.0.1,reuseaddr,fork",
                f"TCP:127.0.0.1:{self.target}",
            ]
        )
        assert wait_for_port("127.0.0.1", self.port, 5)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None


class _SubCollector:
    """mosquitto_sub in its own process (QoS 1) writing one payload per line to a file."""

    def __init__(self, broker: Any, topic: str, out: Path) -> None:
        self.out = out
        self.handle = out.open("wb")
        self.proc = subprocess.Popen(
            [
                "mosquitto_sub",
                "-h",
                broker.host,
                "-p",
                str(broker.port),
                "-q",
                "1",
                "-t",
                topic,
                "-F",
                "%p",
            ],
            stdout=self.handle,
        )

    def lines(self) -> list[bytes]:
        return [line for line in self.out.read_bytes().split(b"\n") if line]

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(5)
        self.handle.close()


async def test_outage_with_100k_queued_drains_in_order(
    mqtt_broker, make_config, scripted, fake, tmp_path: Path
):
    device = "res-outage"
    topic = f"gov/v1/{device}/#"
    sub = _SubCollector(mqtt_broker, topic, tmp_path / "received.jsonl")
    proxy = _Proxy(mqtt_broker.port)
    _, factory = scripted
    path = make_config(
        device,
        f"mqtt://127.0.0.1:{proxy.port}",
        [fake("counter", 0.05)],
        publish={"max_inflight": 1000, "batch": 1000},
    )
    agent = build_agent(path, driver_factory=factory)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        # The outage: the drivers keep polling into the outbox, and a burst fills it to 100 k.
        await asyncio.sleep(OUTAGE_S)
        burst = 100_000 - agent.outbox.queued
        for start in range(0, burst, 10_000):
            n = min(10_000, burst - start)
            items = [agent.messages.telemetry({"burst": float(start + i)}) for i in range(n)]
            await agent.produce(items)
        assert agent.outbox.queued >= 100_000
        assert not agent.link.connected
        await asyncio.to_thread(proxy.start)  # the link is back
        assert await _wait(lambda: agent.outbox.queued < 100, 30)
    finally:
        stop.set()
        await task
        proxy.stop()
    last_seq = agent.outbox.seq
    assert agent.outbox.dropped == 0
    assert await _wait(lambda: len(sub.lines()) >= last_seq, 30), (len(sub.lines()), last_seq)
    sub.close()
    keys = []
    for line in sub.lines():
        msg = decode(line)
        if not isinstance(msg, Status):
            keys.append((msg.boot_id, msg.seq))
    _check_exactly_once_in_order(keys, last_seq)
