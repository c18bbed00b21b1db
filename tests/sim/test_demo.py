"""`govedge demo`: the whole path runs, telemetry shows at the hub within 30 s, Ctrl-C cleans up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def _get(url: str, token: str) -> dict:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def _children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid,ppid,pgid,args"], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines()[1:] if f"demo-{pid}" in line]


@pytest.mark.parametrize("broker", ["mosquitto", "embedded"])
def test_demo_shows_telemetry_and_stops_cleanly(tmp_path: Path, broker: str) -> None:
    data = tmp_path / f"demo-{os.getpid()}"
    args = [
        sys.executable,
        "-m",
        "govedge",
        "demo",
        "--devices",
        "2",
        "--fleet",
        "10",
        "--http-port",
        "0",
        "--data",
        str(data),
    ]
    if broker == "embedded":
        args.append("--embedded-broker")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    started = time.monotonic()
    lines: dict[str, str] = {}
    try:
        assert proc.stdout is not None
        while "token" not in lines:
            line = proc.stdout.readline()
            assert line, f"demo exited early: {proc.wait()}"
            key, _, value = line.strip().partition(" ")
            lines[key] = value.strip()
        hub, token = lines["hub"], lines["token"]
        assert lines["broker"].startswith("mqtt://127.0.0.1:")
        metrics: dict = {}
        while time.monotonic() - started < 30 and not metrics:
            time.sleep(0.5)
            metrics = _get(f"{hub}api/v1/devices/cabinet-0001/telemetry/latest", token)["metrics"]
        assert {"temperature", "humidity"} <= set(metrics), "no telemetry within 30 s"
        health: dict = {}
        while time.monotonic() - started < 45 and health.get("devices", 0) < 2 + 10:
            time.sleep(0.5)
            health = _get(f"{hub}api/v1/health", token)
        assert health["devices"] == 2 + 10, "the scenario fleet did not register"
        commands = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        assert token not in commands, "the admin token is on a command line, where ps shows it"
        resources = _get(f"{hub}api/v1/resources", token)
        assert len(resources["items"]) == 4, resources
        page = urllib.request.urlopen(hub, timeout=5).read().decode()
        assert "Operator console" in page
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(30)
    assert code == 0
    time.sleep(0.5)
    assert _children_of(os.getpid()) == [], "processes left behind"
