"""``govedge sim kiosk`` and ``govedge sim visit`` as a developer runs them, in processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from govedge.cli import main

ROOT = Path(__file__).resolve().parents[3]


def test_kiosk_and_visit_from_the_command_line(mqtt_broker: Any, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workdir = tmp_path / "rig"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "govedge",
            "sim",
            "kiosk",
            "--broker",
            mqtt_broker.url,
            "--workdir",
            str(workdir),
            "--device-id",
            "kiosk-cli-1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        where = json.loads(proc.stdout.readline())
        assert where == json.loads((workdir / "rig.json").read_text())
        token = Path(where["token_file"]).read_text().strip()
        request = urllib.request.Request(
            where["api_url"] + "/v1/health", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            health = json.loads(resp.read())
        assert health["device_id"] == "kiosk-cli-1"
        assert set(health["drivers"]) == {"idcard", "finger", "printer", "camera"}
        visit = subprocess.run(
            [
                sys.executable,
                "-m",
                "govedge",
                "sim",
                "visit",
                "--rig",
                str(workdir / "rig.json"),
                "--person",
                "grace_hopper",
                "--face",
                "photo:grace_hopper",
                "--wait",
                "0.3",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=ROOT,
        )
        assert visit.returncode == 0, visit.stderr
        steps = [json.loads(line) for line in visit.stdout.splitlines()]
        assert [s["step"] for s in steps] == ["insert_card", "face", "face_verdict", "remove_card"]
        assert steps[1] == {"step": "face", "who": "photo:grace_hopper", "following": True}
        assert steps[2]["seen"] is False  # no app ran a face session
        with urllib.request.urlopen(where["control_url"] + "/state", timeout=10) as resp:
            state = json.loads(resp.read())
        assert state["card"] is None and state["face"] == "nobody"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(40) == 0


def test_visit_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["sim", "visit"]) != 0
    assert "--control URL or --rig FILE" in capsys.readouterr().err
    assert main(["sim", "visit", "--control", "http://127.0.0.1:9"]) != 0
    err = capsys.readouterr().err
    assert "cannot reach the kiosk rig" in err and len(err.strip().splitlines()) == 1
