"""`govedge device smartcard {readers,read}` in process and as a subprocess."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from govedge.cli import main
from sim.smartcard.card import CardOptions, SocialSecurityCardModel
from sim.smartcard.holders import DECK
from sim.smartcard.pcscd import PrivatePcscd
from sim.smartcard.virtual import VirtualCard


def test_readers_json(ssc_card: VirtualCard, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["device", "smartcard", "readers", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["readers"]
    assert rows == [
        {
            "reader": "Virtual PCD 00 00",
            "card_present": True,
            "atr": "3B 86 80 01 47 4F 56 53 53 43 1A",
        },
        {"reader": "Virtual PCD 00 01", "card_present": False, "atr": ""},
    ]


def test_readers_text_filtered(ssc_card: VirtualCard, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["device", "smartcard", "readers", "00 01"]) == 0
    assert capsys.readouterr().out == "Virtual PCD 00 01: no card\n"
    assert main(["device", "smartcard", "readers", "Omnikey"]) == 0
    assert capsys.readouterr().out == "no readers\n"


def test_read_json_masked(ssc_card: VirtualCard, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["device", "smartcard", "read", "--json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert data["id_number"] == "110105********0017"
    assert data["name"] == "张*" and data["card_number"] == "A******56"
    assert data["birth_date"] == "1990-**-**"
    assert data["expiry_date"] == "2031-03-15" and data["nation_label"] == "汉"
    assert "110105199003070017" not in out and "张伟" not in out


def test_read_json_revealed(ssc_card: VirtualCard, capsys: pytest.CaptureFixture[str]) -> None:
    ssc_card.model = SocialSecurityCardModel(
        DECK["long_name"], options=CardOptions(get_response=True, chunk=16)
    )
    assert main(["device", "smartcard", "read", "pcsc://00 00", "--json", "--reveal"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "买买提·艾力·阿不都热合曼" and data["name_extension"] == "·吐尔逊"
    assert data["id_number"] == DECK["long_name"].id_number
    assert data["nation_label"] == "维吾尔"


def test_read_text(ssc_card: VirtualCard, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["device", "smartcard", "read", "Virtual PCD 00 00"]) == 0
    out = capsys.readouterr().out
    assert "reader: Virtual PCD 00 00\n" in out
    assert "社会保障号码 ID number: 110105********0017\n" in out
    assert "性别 sex: 1 (男)\n" in out


def test_read_empty_reader_one_line(
    ssc_card: VirtualCard, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["device", "smartcard", "read", "00 01"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("govedge: error: no card in 'Virtual PCD 00 01'")


def test_read_wait_times_out(ssc_card: VirtualCard, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["device", "smartcard", "read", "00 01", "--wait", "0.2"]) == 1
    assert "no card was inserted in 'Virtual PCD 00 01' within 0.2 s" in capsys.readouterr().err


def test_read_unknown_reader(ssc_card: VirtualCard, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["device", "smartcard", "read", "Omnikey"]) == 1
    assert "no reader matches 'Omnikey'" in capsys.readouterr().err


def test_read_no_card_anywhere(
    ssc_card: VirtualCard, pcsc_stack: PrivatePcscd, capsys: pytest.CaptureFixture[str]
) -> None:
    from drivers.smartcard.pcsc import PcscContext

    ssc_card.remove()
    with PcscContext() as context:
        context.wait_for_removal(pcsc_stack.reader_names[0], 5)
    assert main(["device", "smartcard", "read"]) == 1
    assert capsys.readouterr().err == (
        "govedge: error: no card in any reader: insert the social-security card\n"
    )


def test_subprocess_read(
    ssc_card: VirtualCard, cli_env: dict[str, str], govedge_cmd: list[str]
) -> None:
    out = subprocess.run(
        [*govedge_cmd, "device", "smartcard", "read", "--json"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["id_number"] == "110105********0017"


def test_subprocess_without_pcscd(
    tmp_path: Path, cli_env: dict[str, str], govedge_cmd: list[str]
) -> None:
    env = dict(cli_env, PCSCLITE_CSOCK_NAME=str(tmp_path / "none.comm"))
    out = subprocess.run(
        [*govedge_cmd, "device", "smartcard", "readers"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.count("\n") == 1
    assert out.stderr.startswith("govedge: error: connect to pcscd: ")
    assert "is pcscd running?" in out.stderr and "Traceback" not in out.stderr
