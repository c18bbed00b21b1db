"""``govedge hub token``: a token is made only in the database the running hub reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from govedge.cli import main
from hub.auth import TokenStore
from hub.db import create_schema, make_engine


def _hub_config(tmp_path: Path) -> tuple[Path, Path]:
    db = tmp_path / "data" / "registry.db"
    db.parent.mkdir()
    create_schema(make_engine(f"sqlite:///{db}"))  # as the hub's first start leaves it
    config = tmp_path / "hub.json"
    config.write_text(json.dumps({"database_url": f"sqlite:///{db}"}))
    return config, db


@pytest.mark.parametrize("where", ["before", "after"])
def test_token_create_uses_the_config_given_before_or_after_the_action(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config, db = _hub_config(tmp_path)
    args = ["token", "create", "--role", "operator"]
    argv = ["hub", "--config", str(config), *args]
    if where == "after":
        argv = ["hub", *args, "--config", str(config)]
    assert main(argv) == 0
    token = capsys.readouterr().out.strip()
    assert TokenStore(make_engine(f"sqlite:///{db}")).role_of(token) == "operator"
    assert not (tmp_path / "var").exists()


def test_token_create_without_a_config_refuses_and_makes_no_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["hub", "token", "create", "--role", "operator"]) != 0
    err = capsys.readouterr().err
    assert "which hub?" in err and "--config" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_token_create_for_a_hub_that_never_ran_names_the_missing_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "hub.json"
    missing = tmp_path / "nowhere" / "registry.db"
    config.write_text(json.dumps({"database_url": f"sqlite:///{missing}"}))
    assert main(["hub", "--config", str(config), "token", "list"]) != 0
    assert f"no hub database at {missing}" in capsys.readouterr().err
    assert not missing.parent.exists()
