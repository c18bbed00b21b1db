"""``govedge sim gnss`` as a process, read by ``govedge device gnss read``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from govedge.cli import main


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "govedge.cli", "sim", "gnss", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("gnss receiver listening on /dev/pts/"), line
    return proc, line.split()[4]


def test_sim_and_read(capsys: pytest.CaptureFixture[str]) -> None:
    proc, url = _start("--still", "39.9087,116.3975", "--rate", "10")
    try:
        assert main(["device", "gnss", "read", url, "--json"]) == 0
        fields = json.loads(capsys.readouterr().out)
        assert fields["lat"] == pytest.approx(39.9087, abs=1e-6)
        assert fields["lon"] == pytest.approx(116.3975, abs=1e-6)
        assert fields["fix"] == 1
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


def test_track_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    track = tmp_path / "track.json"
    track.write_text(json.dumps({"waypoints": [[22.5431, 114.0579]], "speed_mps": 0}))
    proc, url = _start("--track", str(track), "--rate", "10", "--talker", "BD")
    try:
        assert main(["device", "gnss", "read", url]) == 0
        assert capsys.readouterr().out.startswith("lat 22.5431000 lon 114.0579000 fix 1 (GPS)")
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--still", "north"], "--still wants LAT,LON"),
        (["--rate", "0"], "--rate must be positive"),
        (["--talker", "G1"], "--talker wants two letters"),
        (["--track", "/no/such.json"], "cannot read track"),
    ],
)
def test_bad_arguments(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "gnss", *args]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
