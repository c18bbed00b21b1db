"""``govedge device idcard`` against the simulator: masked by default, --reveal, clean errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from govedge.cli import main
from sim.idcard.server import IdCardSimulator

SimFactory = Callable[..., IdCardSimulator]
ROOT = Path(__file__).resolve().parents[3]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--log-level", "warning", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_read_json_masked(make_sim: SimFactory, capsys: pytest.CaptureFixture[str]) -> None:
    sim = make_sim("long_term")
    code, out, err = run(capsys, "device", "idcard", "read", sim.url, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["id_number"] == "110105********002X"
    assert data["name"] == "测**"
    assert "示例" not in data["address"]
    assert data["sex"] == "男"
    assert data["nation"] == "汉"
    assert data["birth_date"] == "1949-12-31"
    assert data["issuer"] == "北京市公安局朝阳分局"
    assert data["valid_from"] == "2010-01-01"
    assert data["valid_to"] == "长期"
    assert data["card_type"] == "resident"
    assert "11010519491231002X" not in out + err
    assert "测试丙" not in out + err


def test_read_json_reveal(make_sim: SimFactory, capsys: pytest.CaptureFixture[str]) -> None:
    sim = make_sim("long_term")
    code, out, _ = run(capsys, "device", "idcard", "read", sim.url, "--json", "--reveal")
    assert code == 0
    data = json.loads(out)
    assert data["id_number"] == "11010519491231002X"
    assert data["name"] == "测试丙"
    assert data["address"] == "北京市朝阳区示例胡同3号"


def test_read_text_and_photo(
    make_sim: SimFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sim = make_sim("foreigner")
    photo = tmp_path / "photo.jpg"
    code, out, _ = run(
        capsys, "device", "idcard", "read", sim.url, "--photo", str(photo), "--simulated"
    )
    assert code == 0
    assert "foreign_permanent_residence" in out
    assert "USA" in out
    assert "TESTER" not in out  # the English name is masked too
    assert photo.read_bytes()[:2] == b"\xff\xd8"


def test_sam(make_sim: SimFactory, capsys: pytest.CaptureFixture[str]) -> None:
    sim = make_sim()
    code, out, _ = run(capsys, "device", "idcard", "sam", sim.url)
    assert code == 0
    assert "SAM status: ok" in out
    assert "05.01-20201231-0000123456-0987654321" in out
    code, out, _ = run(capsys, "device", "idcard", "sam", sim.url, "--json")
    assert json.loads(out) == {"status": "ok", "sam_id": "05.01-20201231-0000123456-0987654321"}


@pytest.mark.parametrize(
    ("faults", "words"),
    [
        (("no_card",), "no card on the reader"),
        (("card_removed",), "removed during the read"),
        (("sam_fault",), "self-test"),
    ],
)
def test_device_errors_are_one_line(
    make_sim: SimFactory, capsys: pytest.CaptureFixture[str], faults: tuple[str, ...], words: str
) -> None:
    sim = make_sim("valid", faults)
    code, out, err = run(capsys, "device", "idcard", "read", sim.url, "--json")
    assert code == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("govedge: error: ")
    assert words in lines[0]


def test_timeout_error(make_sim: SimFactory, capsys: pytest.CaptureFixture[str]) -> None:
    sim = make_sim("valid", ("slow_sam",), delay=0.4)
    code, _, err = run(capsys, "device", "idcard", "sam", sim.url, "--timeout", "0.1")
    assert code == 1
    assert "no answer from the reader" in err
    assert len(err.strip().splitlines()) == 1


def test_no_device(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "device", "idcard", "read", "/dev/does-not-exist-idcard")
    assert code == 1
    assert err.strip() == "govedge: error: no serial device at /dev/does-not-exist-idcard"


def test_console_script_subprocess(make_sim: SimFactory) -> None:
    sim = make_sim("hk_mo_tw")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "govedge", "device", "idcard", "read", sim.url, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["card_type"] == "hk_mo_tw_residence"
    assert data["pass_number"] == "H1*******"
    assert data["id_number"].startswith("810000********")
