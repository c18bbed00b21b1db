"""The ledger's walk on a small chain (service layer, SQLite): an edit that also rewrites the
entry's own hash breaks the next link; a forged checkpoint is refused; a checkpoint signed by a
rotated-out key still holds; an empty ledger holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from govedge.cli import main
from hub.db import make_engine
from hub.services.keys import ProofKeyring
from hub.services.ledger import Ledger, entry_hash, verify_ledger
from hub.services.proofs import ProofRequest, ProofService, Subject
from hub.services.tables import checkpoints, create_tables, ledger
from hub.settings import ServicesConfig


@pytest.fixture
def service(tmp_path: Path) -> ProofService:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    create_tables(engine)
    keyring = ProofKeyring(tmp_path / "keys")
    chain = Ledger(engine, keyring, checkpoint_every=10)
    chain.ensure_head()
    return ProofService(engine, keyring, chain, ServicesConfig())


def issue(service: ProofService, n: int, prefix: str = "r") -> None:
    reqs = [
        ProofRequest(f"{prefix}-{i}", "residence_proof", Subject("11010519491231002X", "张三"), "h")
        for i in range(n)
    ]
    service.issue_many(reqs, "kiosk-1")


def test_empty_ledger_holds(service: ProofService) -> None:
    report = verify_ledger(service.engine, service.keyring.trust())
    assert report.ok and report.entries == 0 and report.text().startswith("ledger holds: 0")


def test_rehashed_edit_breaks_the_next_link(service: ProofService) -> None:
    issue(service, 25)
    engine = service.engine
    with engine.begin() as conn:
        row = conn.execute(sa.select(ledger).where(ledger.c.seq == 13)).one()
        forged = entry_hash(13, row.ts_ms, row.kind, row.proof_id, "e" * 64, row.prev_hash)
        conn.execute(
            ledger.update().where(ledger.c.seq == 13).values(doc_hash="e" * 64, entry_hash=forged)
        )
    report = verify_ledger(engine, service.keyring.trust())
    assert not report.ok and report.first is not None
    assert report.first.seq == 13  # the proof's row disagrees with entry 13
    assert any(p.seq == 14 and "does not link" in p.message for p in report.problems)


def test_forged_checkpoint_and_rotation(service: ProofService) -> None:
    issue(service, 10, "a")  # checkpoint at 10, signed by the first key
    service.keyring.rotate()
    issue(service, 10, "b")  # checkpoint at 20, signed by the second
    trust = service.keyring.trust()
    report = verify_ledger(service.engine, trust)
    assert report.ok and report.checkpoints == 2, report.text()
    with service.engine.begin() as conn:
        conn.execute(checkpoints.update().where(checkpoints.c.seq == 20).values(head_hash="0" * 64))
    report = verify_ledger(service.engine, trust)
    assert report.first is not None and report.first.seq == 20
    assert "not signed by a trusted key" in report.first.message


def test_ledger_verify_command_with_a_config(
    service: ProofService, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    issue(service, 12)
    config = tmp_path / "hub.json"
    config.write_text(
        json.dumps(
            {
                "database_url": str(service.engine.url),
                "services": {"proof_keys_dir": str(tmp_path / "keys")},
            }
        )
    )
    assert main(["ledger", "verify", "--config", str(config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["entries"] == 12 and report["checkpoints"] == 1
    missing = tmp_path / "nowhere.json"
    assert main(["ledger", "verify", "--config", str(config), "--trust", str(missing)]) == 2
    assert "no such trust list" in capsys.readouterr().err
