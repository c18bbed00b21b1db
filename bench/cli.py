"""``govedge bench``: run the benchmark suite, show progress, print every figure beside its
baseline and write the table to bench/results/<UTC timestamp>.md.

Each benchmark is a module bench/<name>.py with ``run() -> list[BenchResult]``; a module that is
not there is reported as not available, and one that fails is reported with its error while the
others still run.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import math
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from govedge.errors import ConfigError

BENCHMARKS = (
    "ingest",
    "alert_latency",
    "agent",
    "face",
    "idcard_read",
    "fleet_connect",
    "fleet_client",
    "services",
    "inspector",
    "kiosk",
    "update",
    "console",
)
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def register(parser: argparse.ArgumentParser) -> None:
    """Add the ``govedge bench`` options to ``parser``."""
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        choices=BENCHMARKS,
        help="run only these benchmarks: " + ", ".join(BENCHMARKS),
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a quick look")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where the table goes")
    parser.set_defaults(func=run)


class _Progress:
    """A line on stderr-like stdout saying which benchmark runs and for how long."""

    def __init__(self, label: str, interval: float = 5.0) -> None:
        self.label = label
        self.interval = interval
        self._stop = threading.Event()
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._tick, daemon=True)

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            print(f"  ... {self.label}: {time.monotonic() - self._start:.0f} s", flush=True)

    def __enter__(self) -> _Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._start


def _fmt(x: float) -> str:
    if math.isnan(x):
        return "n/a"
    return f"{x:.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def table(rows: Sequence[tuple[str, object]]) -> str:
    """The Markdown table: one row per figure, or a row saying why a benchmark has none."""
    from bench.common import BenchResult

    out = [
        "| benchmark | figure | baseline | ratio | goal | notes |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, item in rows:
        if isinstance(item, BenchResult):
            better = "higher" if item.higher_is_better else "lower"
            out.append(
                f"| {item.name} | {_fmt(item.figure)} {item.unit} | {_fmt(item.baseline)} "
                f"{item.unit} ({item.baseline_label}) | {_fmt(item.ratio)} ({better} is better) "
                f"| {item.goal} | {item.notes} |"
            )
        else:
            out.append(f"| {name} | - | - | - | - | {item} |")
    return "\n".join(out) + "\n"


def run(args: argparse.Namespace) -> int:
    """Run the chosen benchmarks and print each figure beside its baseline."""
    names = list(args.only or BENCHMARKS)
    logging.disable(logging.INFO)  # the figures, not every driver's info line
    if args.quick:
        os.environ["GOVEDGE_BENCH_QUICK"] = "1"
    rows: list[tuple[str, object]] = []
    failed = 0
    started = time.monotonic()
    for i, name in enumerate(names, 1):
        module_name = f"bench.{name}"
        if importlib.util.find_spec(module_name) is None:
            print(f"[{i}/{len(names)}] {name}: not available (no module {module_name})", flush=True)
            rows.append((name, "not available"))
            continue
        print(f"[{i}/{len(names)}] {name}: running", flush=True)
        with _Progress(name) as progress:
            try:
                results = importlib.import_module(module_name).run()
            except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
                failed += 1
                print(f"[{i}/{len(names)}] {name}: FAILED: {type(exc).__name__}: {exc}", flush=True)
                rows.append((name, f"failed: {type(exc).__name__}: {exc}".replace("|", "/")))
                continue
        for result in results:
            print(f"    {result.line()}", flush=True)
            rows.append((name, result))
        print(f"[{i}/{len(names)}] {name}: done in {progress.elapsed:.0f} s", flush=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot write results to {args.out}: {exc}") from None
    path = args.out / f"{stamp}.md"
    header = (
        f"# Benchmarks {stamp}\n\n{'quick run' if args.quick else 'full run'}, "
        f"{time.monotonic() - started:.0f} s, {os.cpu_count()} CPUs\n\n"
    )
    path.write_text(header + table(rows))
    print(f"table written to {path}", flush=True)
    return 1 if failed else 0
