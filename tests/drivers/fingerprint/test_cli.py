"""``govedge device fingerprint ...`` against the simulator, in process and as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from govedge.cli import main
from sim.fingerprint import FingerprintSimulator

ROOT = Path(__file__).resolve().parents[3]
FAST = ["--timeout", "0.5", "--wait", "0.3"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["device", "fingerprint", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_count_json(sim: FingerprintSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    sim.module.enroll(0, "a")
    sim.module.enroll(1, "b")
    code, out, _ = run(capsys, "count", sim.url, "--json", *FAST)
    assert code == 0
    assert json.loads(out) == {"count": 2}
    code, out, _ = run(capsys, "count", sim.url, *FAST)
    assert (code, out) == (0, "2\n")


def test_info(sim: FingerprintSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "info", sim.url, *FAST)
    assert code == 0
    assert "library_size: 200" in out and "address: 0xFFFFFFFF" in out
    code, out, _ = run(capsys, "info", sim.url, "--json", *FAST)
    assert json.loads(out)["packet_size"] == 128


def test_enroll_verify_search_delete(
    sim: FingerprintSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.module.place_finger("citizen-7", tap=True)
    code, out, _ = run(capsys, "enroll", sim.url, "7", "--json", *FAST)
    assert code == 0 and json.loads(out) == {"enrolled": True, "id": 7}
    code, out, _ = run(capsys, "verify", sim.url, "7", *FAST)
    assert code == 0 and out.startswith("match with 7 (score ")
    code, out, _ = run(capsys, "search", sim.url, "--json", *FAST)
    assert code == 0 and json.loads(out)["id"] == 7
    code, out, _ = run(capsys, "delete", sim.url, "7", *FAST)
    assert (code, out) == (0, "deleted 1 from 7\n")
    code, out, _ = run(capsys, "search", sim.url, *FAST)
    assert (code, out) == (1, "not found\n")


def test_verify_no_match_exits_1(
    sim: FingerprintSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.module.enroll(3, "someone")
    sim.module.place_finger("someone-else")
    code, out, err = run(capsys, "verify", sim.url, "3", "--json", *FAST)
    assert code == 1
    assert json.loads(out) == {"match": False, "score": 0, "id": 3}
    assert err == ""


def test_delete_all(sim: FingerprintSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    sim.module.enroll(3, "x")
    code, out, _ = run(capsys, "delete", sim.url, "--all", *FAST)
    assert (code, out) == (0, "library emptied\n")
    assert sim.module.library == {}
    code, _, err = run(capsys, "delete", sim.url, *FAST)
    assert code == 1 and "give a template ID or --all" in err


def test_device_errors_are_one_line(
    sim: FingerprintSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "verify", sim.url, "3", *FAST)
    assert code == 1
    assert err.strip().splitlines() == [
        "govedge: error: LoadChar: error reading the template from the library, "
        "or the template is invalid (confirmation code 0x0C)"
    ]
    code, _, err = run(capsys, "count", sim.url, "--password", "0x1234", *FAST)
    assert code == 1 and "wrong handshake password" in err and len(err.splitlines()) == 1
    sim.module.inject("silent")
    code, _, err = run(capsys, "count", sim.url, *FAST)
    assert code == 1 and "no answer" in err
    sim.module.enroll(0, "x")
    code, _, err = run(capsys, "search", sim.url, *FAST)
    assert code == 1 and "no finger placed within 0.3 s" in err
    code, _, err = run(capsys, "count", "/dev/no-such-port", *FAST)
    assert code == 1 and err.startswith("govedge: error: no serial device")


def test_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["device", "fingerprint", "verify", "/dev/null", "70000"])
    assert caught.value.code == 2
    assert "not in 0..65535" in capsys.readouterr().err


def test_as_a_subprocess(sim: FingerprintSimulator) -> None:
    sim.module.enroll(0, "x")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "govedge.cli",
            "--log-level",
            "warning",
            "device",
            "fingerprint",
            "count",
            sim.url,
            "--json",
            *FAST,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"count": 1}
    sim.module.inject("bad_checksum", times=2)
    done = subprocess.run(
        [sys.executable, "-m", "govedge.cli", "device", "fingerprint", "count", sim.url, *FAST],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"govedge: error: VfyPwd: every answer from {sim.url} was torn or failed its checksum"
    ]
    assert "Traceback" not in done.stderr
