"""``govedge sim idcard``: prints where it listens, serves the driver, stops on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from govedge.cli import main

ROOT = Path(__file__).resolve().parents[3]


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "idcard", "--list"]) == 0
    out = capsys.readouterr().out
    for key in ("valid", "expired", "bad_check_digit", "hk_mo_tw", "foreigner"):
        assert key in out


def test_bad_fault_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "idcard", "--fault", "warp_drive"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("govedge: error: unknown fault 'warp_drive'")
    assert len(err.splitlines()) == 1


def test_bad_card_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "idcard", "--card", "nobody"]) == 1
    assert "unknown card 'nobody'" in capsys.readouterr().err


def test_runs_until_interrupted() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sim = subprocess.Popen(
        [sys.executable, "-m", "govedge", "sim", "idcard", "--card", "foreigner"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert sim.stdout is not None
        url = sim.stdout.readline().strip()
        assert url.startswith("/dev/pts/")
        read = subprocess.run(
            [
                sys.executable,
                "-m",
                "govedge",
                "device",
                "idcard",
                "read",
                url,
                "--json",
                "--simulated",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=ROOT,
        )
        assert read.returncode == 0, read.stderr
        assert json.loads(read.stdout)["card_type"] == "foreign_permanent_residence"
        sim.send_signal(signal.SIGINT)
        assert sim.wait(timeout=10) == 0
    finally:
        if sim.poll() is None:
            sim.kill()
            sim.wait()
