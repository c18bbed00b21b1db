"""The alert bench on a machine too busy to answer: a crossing whose alarm never comes ends its
round with a note instead of raising TimeoutError out of the run."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from bench import alert_latency
from govedge.broker import MosquittoBroker


def test_a_round_whose_alarm_never_comes_ends_with_a_note(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(alert_latency, "SAMPLE_TIMEOUT_S", 2.0)
    (tmp_path / "mosq").mkdir()
    broker = MosquittoBroker(workdir=tmp_path / "mosq")
    broker.start()
    assert broker.proc is not None
    hub = alert_latency._start_hub(broker.url, Path(tempfile.mkdtemp(dir=tmp_path)))
    probe = alert_latency.Probe(broker.host, broker.port)
    try:
        time.sleep(alert_latency.LANE_WAIT_S)
        os.kill(broker.proc.pid, signal.SIGSTOP)  # nothing reaches the hub any more
        started = time.monotonic()
        rnd = asyncio.run(alert_latency._measure(hub, probe, 3, 0, budget_s=5.0))
        assert time.monotonic() - started < 30
        assert rnd.timed_out == 1 and rnd.alert_ms == []
        assert rnd.pings_lost == 1
        assert "without an alarm event within 2 s" in rnd.note()
        assert "nan" in f"{alert_latency._pct(rnd.alert_ms, 0.99)}"
    finally:
        os.kill(broker.proc.pid, signal.SIGCONT)
        probe.close()
        hub.proc.terminate()
        try:
            hub.proc.wait(10)
        except subprocess.TimeoutExpired:
            hub.proc.kill()
        broker.stop()
