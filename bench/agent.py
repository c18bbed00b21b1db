"""Edge agent benchmarks: memory with five simulated drivers, and the outbox drain rate.

* RSS of ``govedge agent --config`` polling five Modbus sensors (simulated on one pty bus) and
  publishing to a local Mosquitto, beside a bare Python process that only imports paho.
* Outbox drain rate (QoS 1, each row deleted on its PUBACK) beside the raw publish rate of the same
  paho client set-up without the outbox (same payloads, same in-flight window), in the same run.

Run: ``python -m bench.agent``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import BenchResult

ROOT = Path(__file__).resolve().parents[1]
DRAIN_N = 50_000
WINDOW = 1000


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def _rss_mb(pid: int) -> float:
    import psutil

    return float(psutil.Process(pid).memory_info().rss) / 1e6


def _settled_rss(proc: subprocess.Popen[bytes], seconds: float) -> float:
    """The largest RSS seen over ``seconds`` (after start-up)."""
    peak = 0.0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        peak = max(peak, _rss_mb(proc.pid))
        time.sleep(0.1)
    return peak


def bench_rss(broker_url: str, workdir: Path) -> BenchResult:
    """The agent's resident memory while it polls five simulated Modbus sensors."""
    from sim.modbus.device import SimDevice
    from sim.modbus.server import ModbusBusSimulator

    sim = ModbusBusSimulator(
        [SimDevice(u, "sht20", {"temperature": 20.0 + u, "humidity": 40.0}) for u in range(1, 6)]
    ).start()
    drivers = [
        {
            "name": f"sensor{u}",
            "kind": "modbus",
            "url": sim.url,
            "options": {"profile": "sht20", "unit": u},
            "poll_interval_s": 0.2,
            "metric_prefix": f"s{u}.",
        }
        for u in range(1, 6)
    ]
    config = {
        "device_id": "bench-rss",
        "model": "sensor-cabinet",
        "state_dir": str(workdir / "rss.state"),
        "broker": {"url": broker_url},
        "drivers": drivers,
        "publish": {"health_interval_s": 1.0},
    }
    path = workdir / "rss.json"
    path.write_text(json.dumps(config))
    govedge = str(Path(sys.executable).with_name("govedge"))
    agent = subprocess.Popen(  # noqa: S603 - argv of the installed govedge script, no shell
        [govedge, "--log-level", "warning", "agent", "--config", str(path)],
        env=_env(),
        stderr=subprocess.DEVNULL,
    )
    baseline = subprocess.Popen(
        [sys.executable, "-c", "import paho.mqtt.client, time; time.sleep(60)"],
        env=_env(),
    )
    try:
        time.sleep(2.0)
        figure = _settled_rss(agent, 2.0)
        base = _settled_rss(baseline, 0.3)
    finally:
        for proc in (agent, baseline):
            proc.terminate()
            proc.wait(10)
        sim.stop()
    return BenchResult(
        name="agent RSS, five Modbus sensors polled at 5 Hz",
        figure=figure,
        unit="MB",
        baseline=base,
        baseline_label="bare python importing paho",
        higher_is_better=False,
        goal="<= 40 MB",
    )


def _payloads(n: int) -> list[bytes]:
    from govedge.contract import Telemetry, encode

    return [
        encode(
            Telemetry(
                device_id="bench-drain",
                boot_id="b" * 32,
                seq=i + 1,
                ts=1_800_000_000.0 + i,
                data={"temperature": 21.5, "humidity": 40.0},
            )
        )
        for i in range(n)
    ]


def bench_raw_publish(host: str, port: int, n: int) -> float:
    """Messages/s of a paho client publishing QoS 1 with the agent's window, no outbox."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

    payloads = _payloads(n)
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="bench-raw",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.max_inflight_messages_set(0)
    client.max_queued_messages_set(0)
    acked = 0

    def on_publish(*_: object) -> None:
        nonlocal acked
        acked += 1

    client.on_publish = on_publish
    client.connect(host, port)
    while not client.is_connected():
        client.loop(0.01)
    topic = "gov/v1/bench-drain/telemetry"
    sent = 0
    start = time.perf_counter()
    while acked < n:
        while sent < n and sent - acked < WINDOW:
            client.publish(topic, payloads[sent], qos=1)
            sent += 1
        if client.loop(0.0) != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise RuntimeError("raw client lost its connection")
    elapsed = time.perf_counter() - start
    client.disconnect()
    return n / elapsed


def bench_drain(broker_url: str, workdir: Path, n: int) -> float:
    """Messages/s the agent's link drains from a full outbox (fill not counted)."""
    from edge_agent.agent import Agent
    from firmware_configs.schema import parse_device_config

    config = {
        "device_id": "bench-drain",
        "model": "bench",
        "state_dir": str(workdir / "drain.state"),
        "broker": {"url": broker_url},
        "publish": {"replay_rate_per_s": 0, "max_inflight": WINDOW, "batch": WINDOW},
    }
    agent = Agent(parse_device_config(json.dumps(config).encode(), "bench"))
    payloads = _payloads(n)
    from edge_agent.outbox import Pending

    topic = "gov/v1/bench-drain/telemetry"
    for start in range(0, n, 10_000):
        agent.outbox.append([Pending(topic, _const(p)) for p in payloads[start : start + 10_000]])

    async def drain() -> float:
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        await _until(lambda: agent.link.connected, 0.001)
        began = time.perf_counter()
        await _until(lambda: agent.outbox.queued == 0, 0.002)
        elapsed = time.perf_counter() - began
        stop.set()
        await task
        return n / elapsed

    return asyncio.run(drain())


def _const(payload: bytes) -> Callable[[int], bytes]:
    """A payload builder that ignores the seq (the bench payloads carry their own)."""
    return lambda _seq: payload


async def _until(predicate: Callable[[], bool], step: float) -> None:
    for _ in range(int(120.0 / step)):
        if predicate():
            return
        await asyncio.sleep(step)
    raise RuntimeError("benchmark condition not reached in time")


def run() -> list[BenchResult]:
    """Run the agent benchmarks against a private Mosquitto."""
    from govedge.broker import MosquittoBroker

    with tempfile.TemporaryDirectory(prefix="govedge-bench-agent-") as tmp:
        workdir = Path(tmp)
        broker = MosquittoBroker(workdir=workdir / "mosquitto")
        broker.workdir.mkdir()
        broker.start()
        try:
            rss = bench_rss(broker.url, workdir)
            raw = bench_raw_publish(broker.host, broker.port, DRAIN_N)
            drained = bench_drain(broker.url, workdir, DRAIN_N)
        finally:
            broker.close()
    return [
        rss,
        BenchResult(
            name=f"outbox drain, {DRAIN_N} queued QoS 1 messages, deleted on PUBACK",
            figure=drained,
            unit="msg/s",
            baseline=raw,
            baseline_label="same paho client publishing QoS 1 without the outbox",
            higher_is_better=True,
            goal=">= 5000 msg/s",
        ),
    ]


if __name__ == "__main__":
    for result in run():
        print(result.line())
