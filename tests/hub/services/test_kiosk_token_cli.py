"""``govedge hub token create --role kiosk --name <device id>``: a token bound to its device;
without a device id it is refused with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from govedge.cli import main
from hub.auth import TokenStore
from hub.db import create_schema, make_engine


def test_kiosk_token_bound_to_its_device(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "hub"
    data.mkdir()
    engine = make_engine(f"sqlite:///{data / 'registry.db'}")
    create_schema(engine)  # the hub has run once with this data folder
    args = ["hub", "token", "create", "--data", str(data), "--role", "kiosk"]
    assert main([*args, "--name", "kiosk-hall1-01"]) == 0
    token = capsys.readouterr().out.strip()
    store = TokenStore(engine)
    assert store.identity_of(token) == ("kiosk", "kiosk-hall1-01")
    assert main(args) == 1
    assert "device id" in capsys.readouterr().err
    assert main([*args, "--name", "bad name!"]) == 1
