"""``govedge sim modbus`` as a process: it prints its pty, serves the driver, stops on signal."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.modbus.polled import create
from govedge.cli import main


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "govedge.cli", "sim", "modbus", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("modbus bus listening on /dev/pts/"), line
    return proc, line.split()[4]


@pytest.fixture
def two_device_bus() -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc, url = _start("--profile", "sht20", "--unit", "1", "--profile", "smoke", "--unit", "7")
    yield proc, url
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


def test_sim_serves_the_driver_and_stops_on_sigint(
    two_device_bus: tuple[subprocess.Popen[str], str],
) -> None:
    proc, url = two_device_bus
    with create(url, {"profile": "sht20", "unit": 1}) as sht:
        assert sht.poll() == {"temperature": 30.5, "humidity": 54.6}
    with create(url, {"profile": "smoke", "unit": 7}) as smoke:
        assert smoke.poll() == {"smoke_alarm": 0.0, "obscuration": 0.02}
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0


def test_scenario_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "flood.json"
    scenario.write_text(
        json.dumps(
            {
                "devices": [
                    {
                        "unit": 3,
                        "profile": "water_level",
                        "curves": {"water_level_m": {"baseline": 4.5}},
                    }
                ]
            }
        )
    )
    proc, url = _start("--scenario", str(scenario))
    try:
        argv = [
            "device",
            "modbus",
            "read",
            url,
            "--profile",
            "water_level",
            "--unit",
            "3",
            "--json",
        ]
        assert main(argv) == 0
        assert json.loads(capsys.readouterr().out) == {"water_level_m": 4.5}
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "sht20", "--profile", "noise", "--unit", "1"], "one --unit for each"),
        (["--profile", "nope"], "unknown Modbus profile 'nope'"),
        (["--scenario", "/no/such/file.json"], "cannot read scenario"),
    ],
)
def test_bad_arguments_are_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sim", "modbus", *args]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
