"""A real ``govedge agent`` process stops within its stated bound whatever it is doing: mid-poll
(a driver whose poll blocks, and one polling fast), mid-replay (a large outbox draining) and
mid-partition (the broker unreachable), many times over.

The bound is the one docs/agent.md states: the agent's tasks (2 s), the drivers (2 s plus twice
their poll timeout), the link's drain (``drain_on_stop_s``) and its goodbye (2 s)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from edge_agent.messages import MessageFactory, new_boot_id
from edge_agent.outbox import Outbox
from govedge.broker import free_port
from tests.edge_agent.conftest import GOVEDGE, ROOT, agent_env

POLL_TIMEOUT_S = 0.5
DRAIN_S = 2.0
BOUND_S = 2.0 + (2.0 + 2 * POLL_TIMEOUT_S) + DRAIN_S + 2.0
SLACK_S = 3.0  # the interpreter's own exit on a busy machine
CYCLES = 5

STOPS: list[tuple[str, float]] = []


def _modbus(url: str, **options: Any) -> dict[str, Any]:
    return {
        "name": "climate",
        "kind": "modbus",
        "url": url,
        "options": {"profile": "sht20", "unit": 1, **options},
        "poll_interval_s": 0.02,
        "poll_timeout_s": POLL_TIMEOUT_S,
        "backoff_max_s": 1.0,
    }


def _stop_after(config: Path, log_path: Path, ready: Any, what: str) -> float:
    """Start the agent, wait for ``ready(log)``, SIGTERM it and return how long it took."""
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [GOVEDGE, "--log-level", "info", "agent", "--config", str(config)],
            stdout=out,
            stderr=out,
            cwd=ROOT,
            env=agent_env(),
        )
    try:
        deadline = time.monotonic() + 30
        while not ready(log_path.read_text()):
            assert proc.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        while proc.poll() is None and time.monotonic() - began < BOUND_S + 30:
            time.sleep(0.02)
        took = time.monotonic() - began
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    STOPS.append((what, took))
    text = log_path.read_text()
    assert proc.returncode == 0, (what, took, text[-3000:])
    assert "agent_stopped" in text, (what, text[-3000:])
    assert took <= BOUND_S + SLACK_S, (what, took, text[-3000:])
    return took


def test_agent_stops_within_bound_mid_poll_replay_and_partition(
    mqtt_broker, modbus_sim, make_config, tmp_path: Path
):
    STOPS.clear()
    publish = {"drain_on_stop_s": DRAIN_S}
    for i in range(CYCLES):
        # Mid-poll, a poll that blocks: the unit is silent and the driver waits 30 s per read.
        modbus_sim.silence(1, True)
        blocked = make_config(
            f"stop-block-{i}",
            mqtt_broker.url,
            [_modbus(modbus_sim.url, timeout=30.0, retries=0)],
            publish=publish,
        )
        _stop_after(
            blocked,
            tmp_path / f"block{i}.log",
            lambda t: "mqtt_connected" in t and "driver_error" in t,
            "blocked poll",
        )
        modbus_sim.silence(1, False)
        # Mid-poll, polling fast: the stop lands as a poll completes.
        fast = make_config(
            f"stop-fast-{i}", mqtt_broker.url, [_modbus(modbus_sim.url)], publish=publish
        )
        _stop_after(
            fast,
            tmp_path / f"fast{i}.log",
            lambda t: "mqtt_connected" in t and "state=online" in t,
            "polling",
        )
        # Mid-replay: 10 000 messages queued before start, drained at 2 000/s.
        device = f"stop-replay-{i}"
        replay = make_config(
            device,
            mqtt_broker.url,
            [_modbus(modbus_sim.url)],
            publish={**publish, "replay_rate_per_s": 2000, "batch": 100},
        )
        outbox = Outbox(tmp_path / f"{device}.state" / "outbox.sqlite3")
        factory = MessageFactory(device, new_boot_id(), "gov/v1")
        outbox.append([factory.telemetry({"backlog": float(n)}) for n in range(10_000)])
        outbox.close()
        _stop_after(replay, tmp_path / f"replay{i}.log", lambda t: "mqtt_connected" in t, "replay")
        left = Outbox(tmp_path / f"{device}.state" / "outbox.sqlite3")
        assert 0 < left.queued < 10_000  # it was stopped mid-replay; the rest waits on disk
        left.close()
        # Mid-partition: nothing listens where the broker should be.
        partition = make_config(
            f"stop-part-{i}",
            f"mqtt://127.0.0.1:{free_port()}",
            [_modbus(modbus_sim.url)],
            publish=publish,
        )
        _stop_after(
            partition,
            tmp_path / f"part{i}.log",
            lambda t: t.count("mqtt_connect_failed") >= 3,
            "partition",
        )
    longest = max(STOPS, key=lambda s: s[1])
    print(f"\nstops: {len(STOPS)}, longest: {longest[1]:.2f} s ({longest[0]}), bound {BOUND_S} s")
    assert len(STOPS) == 4 * CYCLES


async def test_a_broker_that_never_answers_connect_is_retried(
    mosquitto_factory, make_config, scripted, fake
) -> None:
    """TCP accepted, no CONNACK (a stopped broker: its kernel still completes handshakes): the
    link gives up on that connection after CONNACK_TIMEOUT_S and retries, instead of waiting for
    the keepalive, and connects once the broker answers again."""
    import asyncio
    import os

    from edge_agent.link import CONNACK_TIMEOUT_S
    from edge_agent.runtime import build_agent

    broker = mosquitto_factory()
    _, factory = scripted
    path = make_config("stop-connack", broker.url, [fake("c", 0.5)])
    agent = build_agent(path, driver_factory=factory)
    stop = asyncio.Event()
    os.kill(broker.proc.pid, signal.SIGSTOP)
    task = asyncio.create_task(agent.run(stop))
    try:
        deadline = time.monotonic() + CONNACK_TIMEOUT_S + 10
        while agent.link.counters.connect_failures < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert agent.link.counters.connect_failures >= 1  # well before the 60 s keepalive
        assert not agent.link.connected
        os.kill(broker.proc.pid, signal.SIGCONT)
        deadline = time.monotonic() + CONNACK_TIMEOUT_S + 15
        while not agent.link.connected and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert agent.link.connected
    finally:
        os.kill(broker.proc.pid, signal.SIGCONT)
        stop.set()
        await task
