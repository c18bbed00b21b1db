"""``govedge sim printer`` as a process: listens, takes receipts, changes state on stdin, stops."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
GOVEDGE = str(Path(sys.executable).parent / "govedge")


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def test_sim_printer_process(tmp_path: Path) -> None:
    out = tmp_path / "receipts"
    sim = subprocess.Popen(
        [GOVEDGE, "sim", "printer", "--out", str(out), "--paper", "58"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env(),
    )
    try:
        assert sim.stdout is not None and sim.stdin is not None
        first = sim.stdout.readline()
        match = re.search(r"listening on (tcp://127\.0\.0\.1:\d+)", first)
        assert match, first
        url = match.group(1)
        test = subprocess.run(
            [GOVEDGE, "device", "printer", "test", url, "--paper", "58"],
            capture_output=True, text=True, env=env(), timeout=30,
        )  # fmt: skip
        assert test.returncode == 0, test.stderr
        line = sim.stdout.readline()
        assert line.startswith("receipt 1:") and "QR 1" in line and "cut partial" in line
        assert (out / "receipt-0001.png").stat().st_size > 1000
        sim.stdin.write("paper-out on\n")
        sim.stdin.flush()
        assert "paper_out=True" in sim.stdout.readline()
        status = subprocess.run(
            [GOVEDGE, "device", "printer", "status", url, "--json"],
            capture_output=True, text=True, env=env(), timeout=30,
        )  # fmt: skip
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["paper_out"] is True
        sim.send_signal(signal.SIGINT)
        assert sim.wait(timeout=10) == 0
        assert "stopped after 1 receipt" in sim.stdout.read()
    finally:
        if sim.poll() is None:
            sim.kill()
            sim.wait()


def test_sim_printer_port_in_use(tmp_path: Path) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = subprocess.run(
            [GOVEDGE, "sim", "printer", "--port", str(port), "--out", str(tmp_path)],
            capture_output=True, text=True, env=env(), timeout=30,
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "cannot listen" in result.stderr
