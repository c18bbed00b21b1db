"""Appends from several workers at once (threads with their own engines, as hub workers have)
stay one unbroken chain on SQLite and PostgreSQL; retries of one request racing each other give
one proof."""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa

from hub.db import make_engine
from hub.services.keys import ProofKeyring
from hub.services.ledger import Ledger, verify_ledger
from hub.services.proofs import IssuedProof, ProofRequest, ProofService, Subject
from hub.services.tables import create_tables, proofs
from hub.settings import ServicesConfig

WORKERS = 4
EACH = 40


def worker_service(url: str, keys: Path) -> ProofService:
    engine = make_engine(url)
    keyring = ProofKeyring(keys)
    return ProofService(engine, keyring, Ledger(engine, keyring, 25), ServicesConfig())


def test_workers_append_one_chain(registry_url: str, tmp_path: Path) -> None:
    setup = make_engine(registry_url)
    create_tables(setup)
    first = worker_service(registry_url, tmp_path / "keys")
    first.ledger.ensure_head()
    first.keyring.current()  # one key for every worker
    services = [worker_service(registry_url, tmp_path / "keys") for _ in range(WORKERS)]
    errors: list[BaseException] = []
    results: list[IssuedProof] = []
    lock = threading.Lock()

    def run(n: int, service: ProofService) -> None:
        try:
            for i in range(EACH):
                req = ProofRequest(
                    f"w{n}-{i}", "residence_proof", Subject("11010519491231002X", "张三"), "h"
                )
                issued, created = service.issue(req, f"kiosk-{n}")
                assert created
                # Retries of one request: the same proof.
                if i % 10 == 0:
                    race = [service.issue(req, f"kiosk-{n}")[0] for _ in range(2)]
                    assert {p.proof_id for p in race} == {issued.proof_id}
                with lock:
                    results.append(issued)
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n, s)) for n, s in enumerate(services)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert len({p.proof_id for p in results}) == WORKERS * EACH
    report = verify_ledger(setup, first.keyring.trust())
    assert report.ok, report.text()
    assert report.entries == WORKERS * EACH and report.checkpoints == WORKERS * EACH // 25
    with setup.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(proofs)).scalar() == WORKERS * EACH
        )
    for s in [*services, first]:
        s.engine.dispose()
    setup.dispose()


def test_racing_retries_give_one_proof(registry_url: str, tmp_path: Path) -> None:
    setup = make_engine(registry_url)
    create_tables(setup)
    services = [worker_service(registry_url, tmp_path / "keys") for _ in range(WORKERS)]
    services[0].ledger.ensure_head()
    services[0].keyring.current()
    req = ProofRequest("same", "residence_proof", Subject("11010519491231002X", "张三"), "h")
    barrier = threading.Barrier(WORKERS)
    answers: list[tuple[str, str, bool]] = []
    errors: list[BaseException] = []

    def run(service: ProofService) -> None:
        try:
            barrier.wait(10)
            issued, created = service.issue(req, "kiosk-1")
            answers.append((issued.proof_id, issued.qr_text, created))
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len({(a[0], a[1]) for a in answers}) == 1  # one proof, byte for byte
    assert sum(a[2] for a in answers) == 1  # created once
    report = verify_ledger(setup, services[0].keyring.trust())
    assert report.ok and report.entries == 1
    for s in services:
        s.engine.dispose()
    setup.dispose()
