"""``govedge device modbus ...`` in process and as a subprocess against the simulator."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from govedge.cli import main
from sim.modbus import ModbusBusSimulator


def test_read_json(bus_sim: ModbusBusSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["device", "modbus", "read", bus_sim.url, "--profile", "sht20", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"temperature": 30.5, "humidity": 54.6}


def test_read_text_other_unit(
    bus_sim: ModbusBusSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["device", "modbus", "read", bus_sim.url, "--profile", "water_level", "--unit", "2"]
    assert main(argv) == 0
    assert capsys.readouterr().out == "water_level_m: 1.234 m\n"


def test_profiles_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["device", "modbus", "profiles", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["sht20"] == ["temperature", "humidity"]


def test_silent_unit_is_one_line_and_exit_1(bus_sim: ModbusBusSimulator) -> None:
    bus_sim.silence(1)
    argv = [sys.executable, "-m", "govedge.cli", "device", "modbus", "read", bus_sim.url]
    argv += ["--profile", "sht20", "--timeout", "0.1", "--retries", "0"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"govedge: error: unit 1 did not answer within 0.1 s on {bus_sim.url}"
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["read", "/dev/no-such-port", "--profile", "sht20"], "no serial device at"),
        (["read", "/dev/null", "--profile", "nope"], "unknown Modbus profile 'nope'"),
        (
            ["read", "/dev/null", "--profile", "sht20", "--unit", "300"],
            "options.unit: Expected `int` <= 247",
        ),
    ],
)
def test_errors_are_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["device", "modbus", *argv]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("govedge: error: ")


def test_exception_answer_is_reported(
    bus_sim: ModbusBusSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    bus_sim.set_fault(1, "exception", code=6)
    assert main(["device", "modbus", "read", bus_sim.url, "--profile", "sht20"]) == 1
    assert "exception 6 (server device busy)" in capsys.readouterr().err


def test_port_held_by_another_process_is_one_line(bus_sim: ModbusBusSimulator) -> None:
    from drivers.modbus.polled import create

    with create(bus_sim.url, {"profile": "sht20"}) as held:
        held.poll()
        argv = [sys.executable, "-m", "govedge.cli", "device", "modbus", "read", bus_sim.url]
        done = subprocess.run(
            [*argv, "--profile", "sht20"], capture_output=True, text=True, timeout=30
        )
    assert done.returncode == 1
    assert done.stderr == (
        f"govedge: error: cannot open Modbus bus on {bus_sim.url} (in use by another process?)\n"
    )
