"""`govedge sim smartcard` as a subprocess: it inserts its card into vpcd and says where."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from drivers.smartcard.pcsc import PcscContext
from govedge.broker import free_port
from sim.smartcard.pcscd import PrivatePcscd

WAIT = 5.0


def test_sim_command_inserts_a_card(
    pcsc_stack: PrivatePcscd, cli_env: dict[str, str], govedge_cmd: list[str]
) -> None:
    port = pcsc_stack.vpcd_port + 1
    reader = pcsc_stack.reader_names[1]
    sim = subprocess.Popen(
        [
            *govedge_cmd,
            "sim",
            "smartcard",
            "--port",
            str(port),
            "--netns",
            pcsc_stack.netns,
            "--holder",
            "long_name",
            "--strict-le",
        ],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        line = sim.stdout.readline()
        assert line == (
            f"smartcard simulator: card 'long_name' inserted into vpcd at 127.0.0.1:{port} "
            f"(netns {pcsc_stack.netns})\n"
        )
        with PcscContext() as context:
            context.wait_for_card(reader, WAIT)
        out = subprocess.run(
            [*govedge_cmd, "device", "smartcard", "read", "00 01", "--json"],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        data = json.loads(out.stdout)
        assert data["name"] == "买" + "*" * 12 and data["name_extension"] == "·***"
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    with PcscContext() as context:
        context.wait_for_removal(reader, WAIT)


def test_sim_command_without_vpcd(cli_env: dict[str, str], govedge_cmd: list[str]) -> None:
    port = free_port()
    out = subprocess.run(
        [*govedge_cmd, "sim", "smartcard", "--port", str(port), "--connect-timeout", "0.3"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr == (
        f"govedge: error: vpcd is not listening on 127.0.0.1:{port} "
        "(is pcscd running with vsmartcard-vpcd?)\n"
    )


def test_sim_command_bad_netns(cli_env: dict[str, str], govedge_cmd: list[str]) -> None:
    out = subprocess.run(
        [*govedge_cmd, "sim", "smartcard", "--netns", "/nonexistent/ns", "--connect-timeout", "1"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert out.stderr == (
        "govedge: error: cannot enter the network namespace /nonexistent/ns: "
        "No such file or directory\n"
    )


def test_sim_command_with_its_own_pcscd(cli_env: dict[str, str], govedge_cmd: list[str]) -> None:
    sim = subprocess.Popen(
        [*govedge_cmd, "sim", "smartcard", "--private-pcscd", "--holder", "expired"],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        first, second = sim.stdout.readline(), sim.stdout.readline()
        assert first.startswith(
            "smartcard simulator: card 'expired' inserted into vpcd at 127.0.0.1:35963 (netns "
        )
        assert second.startswith("private pcscd: export PCSCLITE_CSOCK_NAME=")
        socket_path = second.strip().split("=", 1)[1]
        out = subprocess.run(
            [*govedge_cmd, "device", "smartcard", "read", "--wait", "5", "--json", "--reveal"],
            env=dict(cli_env, PCSCLITE_CSOCK_NAME=socket_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["expiry_date"] == "2020-06-01"
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    assert sim.returncode == 0  # SIGTERM: card removed, pcscd stopped, work directory gone
    assert not os.path.exists(socket_path)


PRIVATE = ["sim", "smartcard", "--private-pcscd"]


def test_without_cap_sys_admin_one_clear_error(
    cli_env: dict[str, str], govedge_cmd: list[str]
) -> None:
    """Root without CAP_SYS_ADMIN (a default container): the private stack refuses clearly."""
    before = set(Path(tempfile.gettempdir()).glob("govedge-pcscd-tmp-*"))
    out = subprocess.run(
        ["setpriv", "--bounding-set", "-sys_admin", "--", *govedge_cmd, *PRIVATE],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr == (
        "govedge: error: cannot start pcscd in private namespaces ([Errno 1] unshare: Operation "
        "not permitted); this needs root with CAP_SYS_ADMIN (a VM, or a container run with "
        "--privileged)\n"
    )
    assert set(Path(tempfile.gettempdir()).glob("govedge-pcscd-tmp-*")) == before
