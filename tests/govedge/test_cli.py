"""The command line: --help everywhere, one clear line for bad arguments and missing files."""

from __future__ import annotations

import subprocess
import sys

import pytest

from govedge.cli import DEVICE_COMMANDS, SIM_COMMANDS, TOP_COMMANDS, build_parser, main


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "govedge", *args], capture_output=True, text=True, timeout=60
    )


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    commands = [[name] for name in TOP_COMMANDS]
    commands += [["device", kind] for kind in DEVICE_COMMANDS]
    commands += [["sim", kind] for kind in SIM_COMMANDS]
    for words in commands:
        with pytest.raises(SystemExit) as info:
            build_parser().parse_args([*words, "--help"])
        assert info.value.code == 0, words
        assert "usage: govedge" in capsys.readouterr().out


def test_every_plugin_module_imports() -> None:
    import importlib

    for table in (TOP_COMMANDS, DEVICE_COMMANDS, SIM_COMMANDS):
        for module, _ in table.values():
            if module:
                assert hasattr(importlib.import_module(module), "register"), module


def test_bad_argument_is_one_line_exit_2() -> None:
    out = _run("hub", "--http-port", "eighty")
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert "invalid int value" in out.stderr and "Traceback" not in out.stderr


def test_unknown_command_is_one_line() -> None:
    out = _run("teleport")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_missing_config_file_is_one_line(tmp_path) -> None:
    missing = tmp_path / "nope.json"
    out = _run("hub", "--config", str(missing))
    assert out.returncode == 1
    assert out.stderr.strip() == f"govedge: error: {missing}: no such file"


def test_invalid_config_names_the_key(tmp_path) -> None:
    bad = tmp_path / "hub.json"
    bad.write_text('{"http_port": "eighty"}')
    assert main(["hub", "--config", str(bad)]) == 1


def test_version() -> None:
    out = _run("--version")
    assert out.returncode == 0 and out.stdout.startswith("govedge ")


def _imported(*args: str) -> set[str]:
    """The modules ``python -X importtime -m govedge ARGS`` imports, by name."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "govedge", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    names = {
        line.rsplit("|", 1)[1].strip()
        for line in out.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }
    assert "govedge.cli" in names  # the report is there at all
    return names


def _packages(names: set[str]) -> set[str]:
    return {name.split(".", 1)[0] for name in names}


def test_agent_command_imports_no_simulator_benchmark_or_hub() -> None:
    names = _imported("agent", "--help")
    banned = {"sim", "bench", "hub", "kiosk"}
    assert not _packages(names) & banned, sorted(n for n in names if n.split(".")[0] in banned)
    assert "edge_agent.cli" in names  # the command's own plugin is loaded, and reported


def test_top_level_help_imports_no_plugin() -> None:
    names = _imported("--help")
    plugins = {"drivers", "edge_agent", "hub", "kiosk", "provisioning", "sim", "bench"}
    assert not _packages(names) & plugins, sorted(names)
