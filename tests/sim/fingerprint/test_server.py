"""The simulator on a real pty, and ``govedge sim fingerprint`` as a process."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from drivers.fingerprint.errors import NoFingerError
from drivers.fingerprint.module import FingerprintModule, ModuleSettings
from sim.fingerprint import FingerprintSimulator

ROOT = Path(__file__).resolve().parents[3]
FAST = ModuleSettings(timeout=0.5, finger_timeout=0.3, poll_interval=0, quiet_gap=0.03)


def test_pty_is_raw_and_answers_bytes() -> None:
    with FingerprintSimulator() as sim:
        assert os.path.exists(sim.url)
        fd = os.open(sim.url, os.O_RDWR | os.O_NOCTTY)
        try:
            lflag = termios.tcgetattr(fd)[3]
            assert not lflag & (termios.ICANON | termios.ECHO)
            os.write(fd, bytes.fromhex("EF01FFFFFFFF010003010005"))  # GenImg
            answer = b""
            deadline = time.monotonic() + 2
            while len(answer) < 12 and time.monotonic() < deadline:
                ready, _, _ = select.select([fd], [], [], 0.1)
                if ready:
                    answer += os.read(fd, 64)
            assert answer == bytes.fromhex("EF01FFFFFFFF07000302000C")  # no finger
        finally:
            os.close(fd)
    assert not os.path.exists(sim.url) or sim.url == ""


def test_driver_sessions_one_after_another() -> None:
    with FingerprintSimulator() as sim:
        sim.module.enroll(0, "a")
        for _ in range(3):
            with FingerprintModule(sim.url, FAST) as module:
                assert module.count() == {"count": 1}


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "govedge.cli", "sim", "fingerprint", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    assert ready, "the simulator printed no port"
    return proc, proc.stdout.readline().strip()


def _stop(proc: subprocess.Popen[str], how: signal.Signals) -> int:
    proc.send_signal(how)
    try:
        return proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_sim_command(how: signal.Signals) -> None:
    proc, url = _start("--templates", "3", "--finger", "finger-1", "--tap")
    try:
        assert url.startswith("/dev/pts/")
        with FingerprintModule(url, FAST) as module:
            assert module.count() == {"count": 3}
            assert module.identify()["id"] == 1
            assert module.verify(1)["match"] is True
            assert proc.stdin is not None
            proc.stdin.write("lift\n")
            proc.stdin.flush()
            deadline = time.monotonic() + 5
            while True:
                try:
                    module.identify()
                except NoFingerError:
                    break
                assert time.monotonic() < deadline, "the lift control was not applied"
                time.sleep(0.05)
    finally:
        code = _stop(proc, how)
    assert code == 0
    assert proc.stderr is not None
    assert "Traceback" not in proc.stderr.read()


def test_sim_command_rejects_bad_counts() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "govedge.cli", "sim", "fingerprint", "--templates", "500"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "govedge: error: --templates must be in 0..200"
