"""``govedge device gnss read`` against the simulated receiver."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from govedge.cli import main
from sim.gnss import GnssSimulator, Track


def test_read_json(capsys: pytest.CaptureFixture[str]) -> None:
    with GnssSimulator(Track.still(31.2304, 121.4737), rate_hz=20) as sim:
        assert main(["device", "gnss", "read", sim.url, "--json"]) == 0
    fields = json.loads(capsys.readouterr().out)
    assert fields["lat"] == pytest.approx(31.2304, abs=1e-6)
    assert fields["lon"] == pytest.approx(121.4737, abs=1e-6)
    assert fields["fix"] == 1 and fields["satellites"] == 9


def test_read_text_without_fix(capsys: pytest.CaptureFixture[str]) -> None:
    with GnssSimulator(rate_hz=20, fix_quality=0) as sim:
        assert main(["device", "gnss", "read", sim.url]) == 0
    assert capsys.readouterr().out.startswith("no fix; satellites 9\n")


def test_silent_receiver_is_one_line_and_exit_1() -> None:
    with GnssSimulator(rate_hz=20) as sim:
        sim.silence()
        argv = [sys.executable, "-m", "govedge.cli", "device", "gnss", "read", sim.url]
        done = subprocess.run(
            [*argv, "--timeout", "0.3"], capture_output=True, text=True, timeout=30
        )
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("govedge: error: no valid NMEA sentence")


def test_missing_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["device", "gnss", "read", "/dev/no-such-gnss"]) == 1
    assert capsys.readouterr().err == "govedge: error: no serial device at /dev/no-such-gnss\n"
