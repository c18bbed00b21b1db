"""`govedge agent`: one-line errors, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from govedge.cli import main


def test_agent_needs_a_config(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["agent"])
    assert info.value.code == 2
    assert "--config FILE is required" in capsys.readouterr().err


def test_agent_with_a_bad_config_fails_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["agent", "--config", str(tmp_path / "none.json")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("govedge: error: ") and "none.json: cannot read" in err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"device_id": "x", "model": "m", "broker": {"url": "http://x"}}))
    assert main(["agent", "--config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "$.broker.url" in err
