"""Hub ingestion past one process: stored msg/s of 1, 2 and 3 hub workers.

Each worker is a separate process (``hub.app.create_app`` under an aiohttp runner, as
``bench.ingest`` runs it), all in one MQTT 5 shared subscription group on one Mosquitto, with one
PostgreSQL registry and one InfluxDB for telemetry, both real and started here (bench/stores.py).
In the same run, as baselines: a bare paho subscriber's drain rate (the floor of any Python
consumer) and one worker on SQLite (the embedded set-up). Method as in ``bench.ingest``: the
workers subscribe with persistent sessions and leave, the load is published into their queues,
then they reconnect and the clock runs from the first connect to the last message stored.

Scaling efficiency of N workers = rate(N) / (N x rate(1)). While each stage drains, the CPU of the
broker, of the stores (postgres, influxd and its v2-write forwarder) and of the whole machine is
sampled, to say which limit was reached: the broker (Mosquitto is one thread), the machine's
cores, or the store.

One worker on SQLite and one on PostgreSQL + InfluxDB are drained in turn ``--pairs`` times (3;
1 quick) and compared by their medians and by each pair's ratio: between two runs of the same
code the SQLite worker's rate moved by 15 %, more than the difference being measured.

Run: ``python -m bench.scale [--messages N] [--max-workers 3] [--pairs 3]``;
``GOVEDGE_BENCH_QUICK=1`` for a small load (well under three minutes on two cores).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.common import BenchResult
from bench.ingest import Figures, _broker, _run_hubs, measure_paho
from bench.ingest_load import Load, publish_all
from bench.stores import Influx, Postgres, start_influx, start_postgres

QUICK = os.environ.get("GOVEDGE_BENCH_QUICK", "") not in ("", "0")
SATURATED = 0.85  # of a core (the broker), or of all cores (the machine)


@dataclass
class Stage:
    """One drain: its combined stored rate, and what the parts used while it ran."""

    name: str
    workers: int
    rate: float = 0.0
    split: list[int] = field(default_factory=list)
    seconds: float = 0.0
    broker_cores: float = 0.0
    store_cores: float = 0.0
    workers_cores: float = 0.0
    machine_busy: float = 0.0  # of all cores
    wall: float = 0.0  # the whole stage: broker, worker starts, publishing, drain
    notes: list[str] = field(default_factory=list)

    @property
    def other_cores(self) -> float:
        """Cores busy with processes not in this stage (other work on the machine)."""
        ours = self.broker_cores + self.store_cores + self.workers_cores
        return max(0.0, self.machine_busy * (os.cpu_count() or 1) - ours)

    def limit(self) -> str:
        """Which resource bounded the stage (broker, machine cores, store), in words."""
        if self.broker_cores >= SATURATED:
            return f"broker CPU (Mosquitto at {self.broker_cores:.0%} of its one core)"
        if self.machine_busy >= SATURATED:
            return (
                f"machine cores ({self.machine_busy:.0%} of {os.cpu_count()} busy: workers "
                f"{self.workers_cores:.2f}, store {self.store_cores:.2f}, broker "
                f"{self.broker_cores:.2f}, other processes {self.other_cores:.2f} cores)"
            )
        if self.store_cores >= SATURATED:
            return f"store ({self.store_cores:.2f} cores in postgres/influxd)"
        return (
            f"none saturated (machine {self.machine_busy:.0%} busy): the workers' own "
            "per-message cost and latency to the stores"
        )


class Sampler:
    """CPU seconds of the broker, the store processes (with their children) and the machine,
    sampled every 0.2 s, so that a drain's window can be cut out afterwards."""

    def __init__(self, broker_pid: int, store_pids: list[int]) -> None:
        self.broker = psutil.Process(broker_pid)
        self.stores = [psutil.Process(p) for p in store_pids]
        self.samples: list[tuple[float, float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)
        self._thread.start()

    @staticmethod
    def _cpu(proc: psutil.Process, tree: bool) -> float:
        procs = [proc, *(proc.children(recursive=True) if tree else [])]
        total = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            t = psutil.cpu_times()
            busy = t.user + t.system + getattr(t, "nice", 0.0) + getattr(t, "softirq", 0.0)
            busy += getattr(t, "irq", 0.0)
            self.samples.append(
                (
                    time.monotonic(),
                    self._cpu(self.broker, False),
                    sum(self._cpu(p, True) for p in self.stores),
                    busy,
                )
            )
            self._stop.wait(0.2)

    def window(self, start: float, end: float) -> tuple[float, float, float]:
        """Cores used by the broker, the stores, and the machine (busy/all) in [start, end]."""
        self._stop.set()
        self._thread.join(2)
        inside = [s for s in self.samples if start - 0.2 <= s[0] <= end + 0.2]
        if len(inside) < 2:
            return 0.0, 0.0, 0.0
        first, last = inside[0], inside[-1]
        span = last[0] - first[0]
        cores = os.cpu_count() or 1
        return (
            (last[1] - first[1]) / span,
            (last[2] - first[2]) / span,
            (last[3] - first[3]) / span / cores,
        )


def _prepare_registry(url: str, load: Load) -> None:
    """Schema and devices written once, before the workers start (not raced by N of them)."""
    from hub.db import create_schema, make_engine
    from hub.registry import Registry

    engine = make_engine(url)
    create_schema(engine)
    Registry(engine).register_many({"id": d, "model": "bench"} for d in load.device_ids())
    engine.dispose()


def drain(
    name: str,
    load: Load,
    workers: int,
    database_url: str,
    telemetry_url: str,
    store_pids: list[int],
) -> Stage:
    """One stage: ``workers`` hub processes drain the load from a fresh broker."""
    import json

    stage = Stage(name, workers)
    began = time.monotonic()
    if workers == 1:
        _prepare_registry(database_url, load)
    broker = _broker(load)
    group = "scale" if database_url.startswith("postgresql") else ""
    try:
        configs = [
            json.dumps(
                {
                    "broker_url": broker.url,
                    "client_id": f"scale-{name}-{i}",
                    "shared_group": group,
                    "database_url": database_url,
                    "telemetry_url": telemetry_url,
                    "http_port": 0,
                }
            ).encode()
            for i in range(workers)
        ]
        _run_hubs(configs, prime=True, until=lambda _p: True)
        published = publish_all(broker.host, broker.port, load)
        if published.note():
            stage.notes.append(published.note())
        want = published.acked
        if not want:
            stage.notes.append("nothing acknowledged: not measured")
            return stage
        assert broker.proc is not None
        sampler = Sampler(broker.proc.pid, store_pids)
        progs = _run_hubs(
            configs, prime=False, until=lambda ps: sum(p.count.value for p in ps) >= want
        )
        stage.split = [p.count.value for p in progs]
        stored = sum(stage.split)
        if stored < want:
            stage.notes.append(f"stored {stored} of {want} acknowledged within 300 s")
        if not stored:
            return stage
        start = min(p.t0.value for p in progs)
        end = max(p.t_last.value for p in progs)
        stage.seconds = end - start
        stage.rate = stored / stage.seconds
        stage.broker_cores, stage.store_cores, stage.machine_busy = sampler.window(start, end)
        stage.workers_cores = sum(p.cpu_seconds for p in progs) / stage.seconds
        if stored > want:
            # Each worker counts what it accepted; a message is stored by one worker only.
            stage.notes.append(f"workers accepted {stored} of {want}: copies counted twice")
        return stage
    finally:
        broker.close()
        stage.wall = time.monotonic() - began


@dataclass
class Pairs:
    """One SQLite worker and one PostgreSQL + InfluxDB worker, drained in turn ``pairs`` times:
    the machine's drift between two drains (the SQLite worker's rate moved by 15 % between runs
    of the same code) falls on both sides of each pair, and the medians are reported."""

    sqlite: list[Stage] = field(default_factory=list)
    pg: list[Stage] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        """Each pair's PostgreSQL + InfluxDB rate over its SQLite rate."""
        return [p.rate / s.rate for s, p in zip(self.sqlite, self.pg, strict=True) if s.rate]

    @staticmethod
    def _median(stages: list[Stage]) -> Stage:
        return sorted(stages, key=lambda st: st.rate)[len(stages) // 2]

    def median_sqlite(self) -> Stage:
        """The SQLite drain of median rate."""
        return self._median(self.sqlite)

    def median_pg(self) -> Stage:
        """The PostgreSQL + InfluxDB drain of median rate."""
        return self._median(self.pg)

    def median_ratio(self) -> float:
        """The median of the pairs' ratios."""
        ratios = sorted(self.ratios)
        return ratios[len(ratios) // 2] if ratios else float("nan")


def measure(load: Load, max_workers: int, pairs: int) -> tuple[float, Pairs, list[Stage]]:
    """The bare subscriber's rate; ``pairs`` times one worker on SQLite then one on the stores;
    then 2..max_workers on the stores."""
    figures = Figures(load)
    measure_paho(load, figures)
    pg: Postgres = start_postgres()
    influx: Influx | None = None
    both = Pairs()
    stages: list[Stage] = []
    try:
        influx = start_influx()
        store_pids = [pg.proc.pid, *influx.pids()]
        registry = ""
        for _ in range(max(1, pairs)):
            with tempfile.TemporaryDirectory(prefix="govedge-bench-scale-") as tmp:
                base = Path(tmp)
                both.sqlite.append(
                    drain(
                        "sqlite",
                        load,
                        1,
                        f"sqlite:///{base / 'registry.db'}",
                        f"sqlite:///{base / 'telemetry.db'}",
                        [],
                    )
                )
            # A registry per pair, its devices registered by the one-worker drain; the stages
            # of more workers use the last one (each publish is a new boot of every device, so
            # no stream carries over). A fresh InfluxDB database per stage.
            registry = pg.database(f"scale_{uuid.uuid4().hex[:6]}")
            tag = f"w1_{uuid.uuid4().hex[:6]}"
            both.pg.append(
                drain("pg_influx_1", load, 1, registry, influx.database(tag), store_pids)
            )
        stages.append(both.median_pg())
        for n in range(2, max_workers + 1):
            tag = f"w{n}_{uuid.uuid4().hex[:6]}"
            stages.append(
                drain(f"pg_influx_{n}", load, n, registry, influx.database(tag), store_pids)
            )
    finally:
        if influx is not None:
            influx.close()
        pg.close()
    for note in figures.notes:
        both.sqlite[0].notes.append(f"paho: {note}")
    return figures.paho, both, stages


def results(paho: float, both: Pairs, stages: list[Stage]) -> list[BenchResult]:
    """The figures beside their baselines, with each stage's scaling efficiency."""
    one = stages[0].rate if stages else 0.0
    sqlite = both.median_sqlite()
    out = [
        BenchResult(
            "scale.sqlite_1_worker_vs_paho",
            sqlite.rate,
            "msg/s",
            paho,
            "bare paho subscriber that only counts",
            notes=f"median of {len(both.sqlite)}",
        ),
        BenchResult(
            "scale.pg_influx_1_worker_vs_sqlite",
            both.median_pg().rate,
            "msg/s",
            sqlite.rate,
            "one worker on SQLite, drained in turn with it",
            goal=">= 0.8",
            notes=f"median of {len(both.pg)}; pairs' ratios "
            + ", ".join(f"{r:.2f}" for r in both.ratios)
            + f"; median pair ratio {both.median_ratio():.2f}",
        ),
    ]
    for st in stages:
        out.append(
            BenchResult(
                f"scale.pg_influx_{st.workers}_workers_vs_paho",
                st.rate,
                "msg/s",
                paho,
                "bare paho subscriber that only counts",
            )
        )
        if st.workers > 1:
            out.append(
                BenchResult(
                    f"scale.efficiency_{st.workers}_workers",
                    st.rate,
                    "msg/s",
                    st.workers * one,
                    f"{st.workers} x one PostgreSQL+InfluxDB worker",
                    notes=f"split {st.split}",
                )
            )
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the bench and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000 if QUICK else 100_000)
    parser.add_argument("--devices", type=int, default=100 if QUICK else 200)
    parser.add_argument("--publishers", type=int, default=2 if QUICK else 3)
    parser.add_argument("--max-workers", type=int, default=3)
    parser.add_argument(
        "--pairs",
        type=int,
        default=1 if QUICK else 3,
        help="one-worker drains on SQLite and on PostgreSQL + InfluxDB, in turn (medians)",
    )
    args = parser.parse_args(argv)
    devices = max(1, min(args.devices, args.messages))
    load = Load(devices, max(1, args.messages // devices), args.publishers, 1)
    load_avg = os.getloadavg()[0]
    started = time.monotonic()
    paho, both, stages = measure(load, args.max_workers, args.pairs)
    print(
        f"load: {load.total} telemetry msgs of 200 B, QoS 1, {load.devices} devices, "
        f"{load.publishers} publishers; machine: {os.cpu_count()} cores, load average "
        f"{load_avg:.2f} before the run"
    )
    for result in results(paho, both, stages):
        print(result.line())
    one = stages[0].rate if stages else 0.0
    sqlite = both.median_sqlite()
    for st in [*both.sqlite, *both.pg, *stages[1:]]:
        eff = st.rate / (st.workers * one) if one and st.name != "sqlite" else float("nan")
        print(
            f"{st.name}: {st.rate:.0f} msg/s in {st.seconds:.1f} s, split {st.split}, "
            f"efficiency {eff:.2f}; cores used: broker {st.broker_cores:.2f}, store "
            f"{st.store_cores:.2f}, workers {st.workers_cores:.2f}; machine "
            f"{st.machine_busy:.0%} busy; stage took {st.wall:.0f} s; limit: {st.limit()}"
        )
        for note in st.notes:
            print(f"note: {st.name}: {note}")
    print(f"run took {time.monotonic() - started:.0f} s")
    rates = " ".join(f"w{st.workers}={st.rate:.0f}" for st in stages)
    print(
        f"paho={paho:.0f} sqlite1={sqlite.rate:.0f} {rates} "
        f"pg1/sqlite1 pairs={','.join(f'{r:.2f}' for r in both.ratios)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
