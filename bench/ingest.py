"""Hub ingestion benchmark: the same load drained by mosquitto_sub, a bare paho client, the hub.

Load: 200 k valid telemetry messages of 200 bytes (200 devices x 1000, QoS 1) from three
publisher processes into a real Mosquitto. Method (the same for every consumer): the consumer
connects once with a persistent MQTT 5 session and subscribes, leaves, the load is published into
its queue at the broker, then the consumer reconnects and the clock runs from that connect to the
last message counted (for the hub: stored in SQLite). Preloading isolates the consumer's own rate
from the publishers' CPU on a two-core machine. Then the path past one process: two hub workers
sharing the subscription through an MQTT 5 shared subscription (``$share/bench/...``), each with
its own SQLite registry and telemetry file, drain the same load; the figure is their combined rate.
Also measured, to tell the hub's costs apart: the hub's pipeline alone (decode, validate, dedup,
store) over the same payloads without MQTT.

Run: ``python -m bench.ingest [--messages N] [--publishers P] [--qos 1] [--workers 2]``.
The last line reads ``rate=R ratio_vs_paho=A ratio_vs_mosquitto_sub=B``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import BenchResult, ceilings_line
from bench.ingest_consumers import (
    Progress,
    hub_worker,
    mosquitto_sub_drain,
    mosquitto_sub_prime,
    paho_counter,
    start_process,
)
from bench.ingest_load import Load, Published, payload, publish_all

GOAL_RATE = 15_000.0
GOAL_RATIO_PAHO = 0.6


@dataclass
class Figures:
    """Messages a second of each consumer, and what the run measured besides."""

    load: Load
    mosquitto_sub: float = 0.0
    paho: float = 0.0
    hub: float = 0.0
    shared: float = 0.0
    shared_split: list[int] = field(default_factory=list)
    hub_batch: float = 0.0
    """Mean messages per ingest batch of the single hub worker."""
    pipeline: float = 0.0
    publish: dict[str, float] = field(default_factory=dict)
    cpu_us: dict[str, float] = field(default_factory=dict)
    """CPU microseconds per message of each consumer process (all its threads): unlike the
    wall-clock rates, barely moved by other load on the machine."""
    notes: list[str] = field(default_factory=list)
    """What did not go to plan (a busy machine): printed with the figures, never raised."""

    def last_line(self) -> str:
        """The closing line: the hub's rate, its ratios to paho and mosquitto_sub (NaN: not run)."""
        return (
            f"rate={self.hub:.0f} ratio_vs_paho={_ratio(self.hub, self.paho):.3f} "
            f"ratio_vs_mosquitto_sub={_ratio(self.hub, self.mosquitto_sub):.3f}"
        )


def _ratio(a: float, b: float) -> float:
    return a / b if a and b else float("nan")


def _broker(load: Load):  # type: ignore[no-untyped-def]
    from govedge.broker import MosquittoBroker

    # QoS 0 messages are queued for an offline persistent session only when asked to.
    extra = "queue_qos0_messages true\n" if load.qos == 0 else ""
    broker = MosquittoBroker(extra_config=extra)
    broker.start()
    return broker


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("nan")


def _publish(broker_host: str, port: int, load: Load, figures: Figures, key: str) -> int:
    """Publish the load; return how many messages the broker acknowledged (what to drain)."""
    published = publish_all(broker_host, port, load)
    _noted_publish(published, figures, key)
    return published.acked


def _noted_publish(published: Published, figures: Figures, key: str) -> None:
    figures.publish[key] = _rate(published.acked, published.seconds)
    if published.note():
        figures.notes.append(f"{key}: {published.note()}")
    if not published.acked:
        figures.notes.append(f"{key}: nothing acknowledged, stage not measured")


def measure_mosquitto_sub(load: Load, figures: Figures) -> None:
    """Measure how fast mosquitto_sub drains the load: the machine's ceiling."""
    broker = _broker(load)
    try:
        client_id = f"bench-raw-{uuid.uuid4().hex[:6]}"
        mosquitto_sub_prime(broker.host, broker.port, client_id)
        want = _publish(broker.host, broker.port, load, figures, "mosquitto_sub")
        if not want:
            return
        wall, cpu = mosquitto_sub_drain(broker.host, broker.port, client_id, want)
        figures.mosquitto_sub = _rate(want, wall)
        figures.cpu_us["mosquitto_sub"] = cpu / want * 1e6
    finally:
        broker.close()


def measure_paho(load: Load, figures: Figures) -> None:
    """Measure how fast a bare paho subscriber drains the load."""
    broker = _broker(load)
    try:
        client_id = f"bench-paho-{uuid.uuid4().hex[:6]}"
        prime = Progress.new()
        proc = start_process(paho_counter, broker.host, broker.port, client_id, 0, prime)
        proc.join(30)
        want = _publish(broker.host, broker.port, load, figures, "paho")
        if not want:
            return
        prog = Progress.new()
        proc = start_process(paho_counter, broker.host, broker.port, client_id, want, prog)
        proc.join(150)
        if proc.is_alive():
            proc.kill()
        if prog.count.value < want:
            figures.notes.append(
                f"paho: counted {prog.count.value} of {want} within 150 s: stage not measured"
            )
            return
        figures.paho = _rate(want, prog.seconds)
        figures.cpu_us["paho"] = prog.cpu_seconds / want * 1e6
    finally:
        broker.close()


def _hub_config(workdir: Path, broker_url: str, load: Load, client_id: str, group: str) -> bytes:
    devices = workdir / "devices.json"
    if not devices.exists():
        devices.write_text(json.dumps([{"id": d, "model": "bench"} for d in load.device_ids()]))
    wdir = workdir / client_id
    wdir.mkdir(exist_ok=True)
    config = {
        "broker_url": broker_url,
        "client_id": client_id,
        "shared_group": group,
        "database_url": f"sqlite:///{wdir / 'registry.db'}",
        "telemetry_url": f"sqlite:///{wdir / 'telemetry.db'}",
        "http_port": 0,
        "devices_file": str(devices),
    }
    return json.dumps(config).encode()


def _drain_hubs(
    load: Load, workers: int, group: str, figures: Figures, key: str
) -> tuple[float, list[int], float, float]:
    """Prime, preload, drain with ``workers`` hub processes.

    Returns (combined rate, per-worker counts, CPU us per message over all workers, mean batch
    size); zeros, with a note in ``figures``, when nothing could be measured.
    """
    broker = _broker(load)
    try:
        with tempfile.TemporaryDirectory(prefix="govedge-bench-ingest-") as tmp:
            workdir = Path(tmp)
            configs = [
                _hub_config(workdir, broker.url, load, f"bench-hub-{i}", group)
                for i in range(workers)
            ]
            _run_hubs(configs, prime=True, until=lambda _p: True)
            published = publish_all(broker.host, broker.port, load)
            _noted_publish(published, figures, key)
            want = published.acked
            if not want:
                return 0.0, [], 0.0, 0.0
            progs = _run_hubs(
                configs,
                prime=False,
                until=lambda ps: sum(p.count.value for p in ps) >= want,
            )
            counts = [p.count.value for p in progs]
            if sum(counts) < want:
                figures.notes.append(
                    f"{key}: the hub stored {sum(counts)} of {want} acknowledged within its "
                    "300 s: the rate is over what it stored"
                )
            if not sum(counts):
                return 0.0, counts, 0.0, 0.0
            start = min(p.t0.value for p in progs)
            end = max(p.t_last.value for p in progs)
            cpu_us = sum(p.cpu_seconds for p in progs) / sum(counts) * 1e6
            batch = sum(counts) / max(1, sum(p.batches.value for p in progs))
            return _rate(sum(counts), end - start), counts, cpu_us, batch
    finally:
        broker.close()


def _run_hubs(
    configs: list[bytes], prime: bool, until: Callable[[list[Progress]], bool]
) -> list[Progress]:
    progs = [Progress.new() for _ in configs]
    procs = [start_process(hub_worker, c, prime, p) for c, p in zip(configs, progs, strict=True)]
    try:
        start_by = time.monotonic() + 60
        while not all(p.ready.is_set() for p in progs):
            if any(p.exitcode is not None for p in procs) or time.monotonic() > start_by:
                raise RuntimeError("a hub worker did not start")
            time.sleep(0.02)
        deadline = time.monotonic() + 300
        while not until(progs) and time.monotonic() < deadline:
            if any(p.exitcode not in (None, 0) for p in procs):
                raise RuntimeError("a hub worker died")  # a defect, not a busy machine
            time.sleep(0.05)
    finally:
        for prog in progs:
            prog.stop.set()
        for proc in procs:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
    return progs


def measure_hub(load: Load, figures: Figures) -> None:
    """Measure how fast one hub process ingests the load."""
    rate, _, cpu, batch = _drain_hubs(load, 1, "", figures, "hub")
    figures.hub, figures.hub_batch = rate, batch
    if cpu:
        figures.cpu_us["hub"] = cpu


def measure_shared(load: Load, figures: Figures, workers: int) -> None:
    """Measure how fast ``workers`` hub processes sharing a subscription ingest the load."""
    rate, split, cpu, _ = _drain_hubs(load, workers, "bench", figures, "shared")
    figures.shared, figures.shared_split = rate, split
    if cpu:
        figures.cpu_us["shared"] = cpu


def measure_pipeline(load: Load, figures: Figures, batch: int = 2000) -> None:
    """The hub's pipeline alone (no MQTT): decode, validate, dedup, store, in this process."""
    from govedge.contract.topics import Channel, topic
    from hub.db import create_schema, make_engine
    from hub.ingest.pipeline import Pipeline, Raw
    from hub.metrics import HubMetrics
    from hub.registry import Registry
    from hub.storage.sqlite_store import SQLiteTelemetryStore

    ids = load.device_ids()
    boots = {d: uuid.uuid4().hex for d in ids}
    base = time.time() - 3600.0
    raws = [
        Raw(
            topic(d, Channel.TELEMETRY), payload(d, boots[d], s, base + s * 0.02)
        )  # 50 Hz: the contract's rate
        for s in range(1, load.per_device + 1)
        for d in ids
    ]
    with tempfile.TemporaryDirectory(prefix="govedge-bench-pipeline-") as tmp:
        engine = make_engine(f"sqlite:///{tmp}/registry.db")
        create_schema(engine)
        registry = Registry(engine)
        registry.register_many({"id": d} for d in ids)
        store = SQLiteTelemetryStore(f"{tmp}/telemetry.db")
        pipeline = Pipeline(registry, store, HubMetrics())
        started = time.perf_counter()
        cpu0 = time.process_time()
        for i in range(0, len(raws), batch):
            pipeline.process(raws[i : i + batch])
        seconds = time.perf_counter() - started
        figures.cpu_us["pipeline"] = (time.process_time() - cpu0) / load.total * 1e6
        store.close()
        engine.dispose()
    if pipeline.accepted_total != load.total:
        raise RuntimeError(f"pipeline accepted {pipeline.accepted_total} of {load.total}")
    figures.pipeline = _rate(load.total, seconds)


STAGES = ("mosquitto_sub", "paho", "hub", "pipeline", "shared")


def measure(load: Load, workers: int = 2, stages: tuple[str, ...] = STAGES) -> Figures:
    """Measure the chosen ``stages`` on one load."""
    figures = Figures(load)
    if "mosquitto_sub" in stages:
        measure_mosquitto_sub(load, figures)
    if "paho" in stages:
        measure_paho(load, figures)
    if "hub" in stages:
        measure_hub(load, figures)
    if "pipeline" in stages:
        measure_pipeline(load, figures)
    if "shared" in stages and workers > 1:
        measure_shared(load, figures, workers)
    return figures


def results(f: Figures, workers: int) -> list[BenchResult]:
    """The benchmark's results from the measured figures."""
    size = f"{f.load.total} msgs of 200 B, QoS {f.load.qos}, {f.load.publishers} publishers"
    out = [
        BenchResult(
            "ingest.hub_vs_paho",
            f.hub,
            "msg/s",
            f.paho,
            "bare paho subscriber that only counts",
            goal=f"ratio >= {GOAL_RATIO_PAHO}, figure >= {GOAL_RATE:.0f}",
            notes=size,
        ),
        BenchResult(
            "ingest.hub_vs_mosquitto_sub",
            f.hub,
            "msg/s",
            f.mosquitto_sub,
            "mosquitto_sub drain",
            notes="preloaded persistent session, connect to last message",
        ),
    ]
    if f.pipeline:
        out.append(
            BenchResult(
                "ingest.hub_vs_pipeline_alone",
                f.hub,
                "msg/s",
                f.pipeline,
                "hub pipeline without MQTT (decode, dedup, SQLite)",
            )
        )
    if f.shared:
        out.append(
            BenchResult(
                f"ingest.shared_{workers}_workers_vs_one",
                f.shared,
                "msg/s",
                f.hub,
                "one hub worker",
                notes=f"$share/bench, one SQLite pair per worker, split {f.shared_split}",
            )
        )
    return out


def run() -> list[BenchResult]:
    """Run the ingest benchmark with the default load and two hub workers."""
    return results(measure(Load()), 2)


def main(argv: list[str] | None = None) -> int:
    """Command line: measure the ingest with the given load and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--publishers", type=int, default=3)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--qos", type=int, choices=(0, 1), default=1)
    parser.add_argument("--workers", type=int, default=2, help="hub workers sharing (1: skip)")
    parser.add_argument(
        "--stages",
        default=",".join(STAGES),
        help=f"comma-separated subset of {','.join(STAGES)} (default: all)",
    )
    args = parser.parse_args(argv)
    devices = max(1, min(args.devices, args.messages))
    load = Load(devices, max(1, args.messages // devices), args.publishers, args.qos)
    stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
    unknown = set(stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stage(s): {', '.join(sorted(unknown))}")
    load_avg = os.getloadavg()[0]
    figures = measure(load, args.workers, stages)
    if figures.mosquitto_sub and figures.paho:
        print(
            ceilings_line({"mosquitto_sub": figures.mosquitto_sub, "paho": figures.paho})
            + " (the goals are ratios to these)"
        )
    for result in results(figures, args.workers):
        print(result.line())
    print(f"publish rates (msg/s): {', '.join(f'{k} {v:.0f}' for k, v in figures.publish.items())}")
    print(f"CPU us per message: {', '.join(f'{k} {v:.1f}' for k, v in figures.cpu_us.items())}")
    if figures.hub_batch:
        print(f"hub: {figures.hub_batch:.0f} messages per ingest batch on average")
    print(f"load average before the run: {load_avg:.2f} (the machine has {os.cpu_count()} cores)")
    for note in figures.notes:
        print(f"note: {note}")
    print(figures.last_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
