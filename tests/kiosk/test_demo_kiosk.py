"""`govedge demo` starts one simulated hall kiosk (rig + app, offscreen without a display); a
citizen played through the rig's control endpoint gets through the identity check in the app."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def test_demo_runs_a_kiosk(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "govedge",
            "demo",
            "--devices",
            "1",
            "--fleet",
            "0",
            "--http-port",
            "0",
            "--data",
            str(data),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        kiosk = ""
        deadline = time.monotonic() + 120
        while not kiosk and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, f"demo exited early: {proc.wait()}"
            if line.startswith("kiosk "):
                kiosk = line
        assert "offscreen" in kiosk and "--control http://127.0.0.1:" in kiosk
        control = kiosk.split("--control ", 1)[1].split()[0]
        app_log = data / "kiosk-app.log"
        deadline = time.monotonic() + 30
        while "kiosk_started" not in (app_log.read_text() if app_log.exists() else ""):
            assert time.monotonic() < deadline, "the kiosk app did not start"
            time.sleep(0.2)
        time.sleep(1.0)
        visit = subprocess.run(
            [sys.executable, "-m", "govedge", "sim", "visit", "--control", control],
            capture_output=True,
            text=True,
            env=env,
            timeout=90,
        )
        assert visit.returncode == 0, visit.stdout + visit.stderr
        deadline = time.monotonic() + 30
        while "identity_verified" not in app_log.read_text():
            assert time.monotonic() < deadline, app_log.read_text()[-2000:]
            time.sleep(0.2)
        assert "Traceback" not in app_log.read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    assert code == 0
