"""Fleet-connect benchmark: scale-mode devices against a real Mosquitto started here.

* devices connected, and their connection rate beside bare sequential paho clients (connect,
  CONNACK, next) in the same run;
* QoS 1 telemetry acknowledged per second at 1 message a second per device, beside the offered
  load;
* the hub's ingest: telemetry a hub process (SQLite registry and telemetry) stores per second
  while the fleet runs (five minutes in the full run), beside what the broker acknowledged to
  the fleet in the same window;
* reconnect-storm recovery: the broker is killed and restarted on the same port, and every
  device must be back (jittered backoff) within 60 s; beside the cold connect of the same fleet.
  The hub stays up through it and must store the whole fleet's telemetry again.

Run: ``python -m bench.fleet_connect [--quick] [--devices N]``. The full run uses 10 000 devices,
``--quick`` (or GOVEDGE_BENCH_QUICK=1) 1 000.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import BenchResult

FULL_DEVICES = 10_000
QUICK_DEVICES = 1_000
BASELINE_CLIENTS = 300
FULL_RUN_S = 300.0  # the fleet runs five minutes with the hub ingesting
QUICK_RUN_S = 10.0


def _start_hub(broker_url: str, device_ids: list[str], workdir: Path) -> tuple[Any, Any]:
    """A hub in its own process (as deployed), knowing the fleet's devices."""
    from bench.ingest_consumers import Progress, hub_worker, start_process

    devices = workdir / "devices.json"
    devices.write_text(json.dumps([{"id": d, "model": "sim"} for d in device_ids]))
    config = {
        "broker_url": broker_url,
        "client_id": "bench-fleet-hub",
        "database_url": f"sqlite:///{workdir / 'registry.db'}",
        "telemetry_url": f"sqlite:///{workdir / 'telemetry.db'}",
        "http_port": 0,
        "devices_file": str(devices),
    }
    prog = Progress.new()
    proc = start_process(hub_worker, json.dumps(config).encode(), True, prog)
    if not prog.ready.wait(60):
        proc.kill()
        raise RuntimeError("the hub did not start")
    return proc, prog


def paho_sequential_rate(host: str, port: int, n: int) -> float:
    """Connections a second of bare paho clients opened one after another (CONNECT..CONNACK)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    clients = []
    start = time.perf_counter()
    for i in range(n):
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"paho-base-{i}")
        c.connect(host, port, keepalive=60)
        while not c.is_connected():
            c.loop(timeout=0.05)
        clients.append(c)
    elapsed = time.perf_counter() - start
    for c in clients:
        c.disconnect()
    return n / elapsed


async def _measure(n: int, run_s: float) -> list[BenchResult]:
    import sys

    from govedge.broker import MosquittoBroker, raise_nofile_limit
    from sim.fleet import FleetLayout, ScaleFleet

    raise_nofile_limit(1 << 17)
    broker = MosquittoBroker()
    broker.start()
    layout = FleetLayout.generate(n)
    try:
        base_rate = await asyncio.to_thread(
            paho_sequential_rate, broker.host, broker.port, BASELINE_CLIENTS
        )
        with tempfile.TemporaryDirectory(prefix="govedge-bench-fleet-") as tmp:
            # The hub runs from before the first device connects to after the storm.
            proc, prog = await asyncio.to_thread(_start_hub, broker.url, layout.ids(), Path(tmp))
            fleet = ScaleFleet(layout, broker.url, owned_broker=broker)
            try:
                t0 = time.perf_counter()
                await fleet.start()
                all_in = await fleet.wait_connected(within_s=120)
                cold_s = time.perf_counter() - t0
                connected = fleet.stats.connected
                await asyncio.sleep(3.0)  # births stored, first second of telemetry settled
                h0, a0, t1 = prog.count.value, fleet.stats.acked, time.perf_counter()
                lowest = fleet.stats.connected
                while (elapsed := time.perf_counter() - t1) < run_s:
                    await asyncio.sleep(min(1.0, run_s - elapsed))
                    lowest = min(lowest, fleet.stats.connected)
                    if int(elapsed) % 30 == 29 and run_s > 60:
                        print(
                            f"  fleet {elapsed:4.0f}/{run_s:.0f} s: {fleet.status_line()}  "
                            f"hub stored {prog.count.value - h0}",
                            file=sys.stderr,
                            flush=True,
                        )
                window = time.perf_counter() - t1
                hub_rate = (prog.count.value - h0) / window
                msg_rate = (fleet.stats.acked - a0) / window

                t2 = time.perf_counter()
                await fleet.restart_broker(0.0)
                await asyncio.sleep(0.5)
                back = await fleet.wait_connected(within_s=90)
                storm_s = time.perf_counter() - t2
                # The hub is back too: it stores a second's worth of the fleet again.
                h1 = prog.count.value
                for _ in range(300):  # 60 s
                    if prog.count.value >= h1 + n:
                        break
                    await asyncio.sleep(0.2)
                hub_back_s = time.perf_counter() - t2
                hub_back = prog.count.value >= h1 + n
                await fleet.stop()
            finally:
                prog.stop.set()
                await asyncio.to_thread(proc.join, 30)
                if proc.is_alive():
                    proc.kill()
    finally:
        broker.close()
    note = "" if all_in else f"only {connected} of {n} connected within 120 s"
    return [
        BenchResult(
            "fleet_connect.devices_connected",
            connected,
            "devices",
            n,
            "devices started",
            goal=f"{n}",
            notes="; ".join(
                filter(None, [note, f"fewest connected during the {window:.0f} s run: {lowest}"])
            ),
        ),
        BenchResult(
            "fleet_connect.connect_rate",
            connected / cold_s,
            "conn/s",
            base_rate,
            f"{BASELINE_CLIENTS} sequential paho clients",
            goal="10 k devices connected",
        ),
        BenchResult(
            "fleet_connect.messages",
            msg_rate,
            "msg/s",
            n / fleet.interval_s,
            "offered load, 1 msg/s per device",
            goal=">= 0.95 of offered",
            notes=f"QoS 1 acknowledged by the broker over {window:.0f} s",
        ),
        BenchResult(
            "fleet_connect.hub_ingest",
            hub_rate,
            "msg/s",
            msg_rate,
            "acked by the broker to the fleet, same window",
            goal=">= 0.95 of acked",
            notes=f"one hub process, SQLite registry and telemetry, {window:.0f} s",
        ),
        BenchResult(
            "fleet_connect.storm_recovery",
            storm_s,
            "s",
            cold_s,
            "cold connect",
            higher_is_better=False,
            goal="< 60 s",
            notes="broker killed and restarted"
            + ("" if back else "; NOT all back")
            + (
                f"; hub storing the whole fleet again after {hub_back_s:.1f} s"
                if hub_back
                else "; the hub did NOT resume within 60 s"
            ),
        ),
    ]


def run(quick: bool | None = None, devices: int | None = None) -> list[BenchResult]:
    """Run the fleet-connect benchmark (1 000 devices when quick, else 10 000)."""
    if quick is None:
        quick = os.environ.get("GOVEDGE_BENCH_QUICK") == "1"
    n = devices or (QUICK_DEVICES if quick else FULL_DEVICES)
    return asyncio.run(_measure(n, QUICK_RUN_S if quick else FULL_RUN_S))


def main(argv: list[str] | None = None) -> int:
    """Command line: run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--devices", type=int)
    args = parser.parse_args(argv)
    for result in run(args.quick, args.devices):
        print(result.line(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
