"""The hub keeps only masked ID numbers and names: after proofs are issued (one of a type that
prints the full ID number), neither the full ID number nor the full name is anywhere in the
hub's database file, its write-ahead log, or the log lines."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest


def read_database_files(folder: Path) -> bytes:
    """The bytes of the SQLite database and its write-ahead log."""
    return b"".join(p.read_bytes() for p in folder.glob("registry.db*") if p.is_file())


@pytest.fixture
def registry_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.db'}"


async def test_database_holds_no_full_id_or_name(
    services_hub: Any, proof_body: Any, people: Any, tmp_path: Path, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    sh = await services_hub()
    for i, ptype in enumerate(["residence_proof", "social_security_record"]):
        for person in range(len(people)):
            status, _ = await sh.kiosk(
                "POST", "/services/proofs", json=proof_body(f"p-{i}-{person}", ptype, person)
            )
            assert status == 201
            # A retry too goes through the hub with the full data.
            status, _ = await sh.kiosk(
                "POST", "/services/proofs", json=proof_body(f"p-{i}-{person}", ptype, person)
            )
            assert status == 200
    data = await asyncio.to_thread(read_database_files, tmp_path)
    assert "张**".encode() in data and b"110105********002X" in data  # the right files
    for name, number in people:
        assert number.encode() not in data, number
        assert name.encode() not in data, name
        assert number not in caplog.text and name not in caplog.text
