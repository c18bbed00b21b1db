"""The shipped systemd units pass ``systemd-analyze verify`` (offline, on the unit files) and
carry the hardening and restart policies the operations staff expect; the hub speaks sd_notify."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
GOVEDGE = str(Path(sys.executable).with_name("govedge"))
SERVICES = ["govedge-hub@.service", "govedge-agent.service", "govedge-kiosk.service"]


def _verify(directory: Path, names: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(f"./{n}" for n in names)],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "notice"},
    )


@pytest.fixture
def units(tmp_path: Path) -> Path:
    """The units with their executables pointing at this installation (verify checks that the
    ExecStart= program exists and is executable)."""
    kiosk = tmp_path / "govedge-kiosk"
    kiosk.write_text("#!/bin/sh\nexit 0\n")
    kiosk.chmod(0o755)
    out = tmp_path / "units"
    out.mkdir()
    for path in UNITS.iterdir():
        text = path.read_text().replace("/usr/bin/govedge ", GOVEDGE + " ")
        text = text.replace("/var/lib/govedge/releases/current/bin/govedge-kiosk", str(kiosk))
        (out / path.name).write_text(text)
    return out


def test_units_pass_systemd_analyze_verify(units: Path) -> None:
    names = [
        "govedge-hub@1.service",
        "govedge-agent.service",
        "govedge-kiosk.service",
        "govedge-kiosk-release.path",
        "govedge-kiosk-release.service",
    ]
    result = _verify(units, [*names, "govedge-hub.target"])
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # warnings (unknown keys...) count too


def test_verify_catches_a_broken_unit(units: Path) -> None:
    """The check above has teeth: a misspelt key or a bad value is reported."""
    broken = units / "govedge-agent.service"
    broken.write_text(broken.read_text().replace("ProtectSystem=strict", "ProtectSistem=strict"))
    result = _verify(units, ["govedge-agent.service"])
    assert "ProtectSistem" in result.stderr


@pytest.mark.parametrize("name", SERVICES)
def test_services_are_hardened_and_restart(name: str) -> None:
    text = (UNITS / name).read_text()
    for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "Restart=always"):
        assert line in text.splitlines(), (name, line)
    assert "DevicePolicy=closed" in text
    assert "User=root" not in text


def test_only_the_agent_and_kiosk_reach_devices() -> None:
    hub = (UNITS / "govedge-hub@.service").read_text()
    agent = (UNITS / "govedge-agent.service").read_text()
    assert "PrivateDevices=yes" in hub and "DeviceAllow" not in hub
    assert "DeviceAllow=char-ttyUSB rw" in agent and "SupplementaryGroups=dialout video lp" in agent
    assert "Type=notify" in hub and "WatchdogSec=" in hub


def test_hub_notifies_ready_and_pings_the_watchdog(tmp_path: Path) -> None:
    """``govedge hub`` under a NOTIFY_SOCKET sends READY=1, then WATCHDOG=1 pings."""
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(30)
    env = {
        **os.environ,
        "NOTIFY_SOCKET": str(sock_path),
        "WATCHDOG_USEC": "400000",
        "PYTHONPATH": str(UNITS.parents[1]),
    }
    from govedge.broker import free_port

    proc = subprocess.Popen(
        [
            GOVEDGE,
            "hub",
            "--data",
            str(tmp_path / "data"),
            "--broker",
            "mqtt://127.0.0.1:1",
            "--http-port",
            str(free_port()),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        got: list[bytes] = []
        while got.count(b"WATCHDOG=1") < 3:
            got.append(sock.recv(256))
        assert got[0] == b"READY=1"
    finally:
        proc.terminate()
        proc.wait(30)
        sock.close()
