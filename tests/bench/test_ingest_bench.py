"""The ingest benchmark at a tiny size: every consumer drains the whole load, the line is right.

No figure is asserted (speed belongs to the benchmark itself); only that each stage counts every
message, that the shared subscription splits the load between two workers, and the output shape.
"""

from __future__ import annotations

import re

from bench.ingest import Figures, Load, main, measure, measure_pipeline, results
from bench.ingest_load import payload
from govedge.contract import Telemetry, decode


def test_payload_is_valid_telemetry_of_about_200_bytes() -> None:
    body = payload("bench-00001", "b" * 32, 1000, 1_764_050_000.12)
    msg = decode(body)
    assert isinstance(msg, Telemetry)
    assert msg.device_id == "bench-00001" and msg.seq == 1000
    assert 180 <= len(body) <= 220


def test_every_consumer_drains_the_whole_load() -> None:
    load = Load(devices=10, per_device=30, publishers=2, qos=1)
    figures = measure(load, workers=2, stages=("mosquitto_sub", "paho", "hub", "shared"))
    assert figures.mosquitto_sub > 0 and figures.paho > 0 and figures.hub > 0
    # Both workers of the shared subscription got a share, and together all of it.
    assert len(figures.shared_split) == 2
    assert sum(figures.shared_split) == load.total
    assert all(n > 0 for n in figures.shared_split)
    assert set(figures.cpu_us) == {"mosquitto_sub", "paho", "hub", "shared"}
    names = [r.name for r in results(figures, 2)]
    assert "ingest.hub_vs_paho" in names and "ingest.shared_2_workers_vs_one" in names
    assert re.fullmatch(
        r"rate=\d+ ratio_vs_paho=\d+\.\d{3} ratio_vs_mosquitto_sub=\d+\.\d{3}",
        figures.last_line(),
    )


def test_pipeline_alone_accepts_every_message() -> None:
    load = Load(devices=5, per_device=40, publishers=1)
    figures = Figures(load)
    measure_pipeline(load, figures, batch=50)
    assert figures.pipeline > 0


def test_command_line_prints_the_closing_line_last(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--messages", "60", "--devices", "6", "--publishers", "1", "--stages", "hub"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("rate=")
    assert "ratio_vs_paho=nan" in lines[-1]  # the paho stage was not run


def test_publishers_report_missing_pubacks_instead_of_raising(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A broker that stops answering (SIGSTOP: a machine too busy to schedule it) leaves PUBACKs
    missing at the deadline; the publishers say how many came, and the note says so."""
    import os
    import signal

    from bench.ingest_load import publish_all
    from govedge.broker import MosquittoBroker

    (tmp_path / "mosq").mkdir()
    broker = MosquittoBroker(workdir=tmp_path / "mosq")
    broker.start()
    assert broker.proc is not None
    try:
        os.kill(broker.proc.pid, signal.SIGSTOP)
        load = Load(devices=4, per_device=50, publishers=2, qos=1, ack_timeout_s=1.0)
        published = publish_all(broker.host, broker.port, load)
        assert published.acked < load.total
        assert f"{published.acked} of {load.total} messages acknowledged" in published.note()
    finally:
        os.kill(broker.proc.pid, signal.SIGCONT)
        broker.close()
