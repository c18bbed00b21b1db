"""The proof ledger after 10 000 proofs, on SQLite and PostgreSQL: ``govedge ledger verify``
holds, then names the entry after each tampering (a row edited, a row deleted in the middle and
at the end, two rows swapped, a proof's row edited), and holds again once it is undone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from govedge.cli import main
from hub.services.proofs import ProofRequest, Subject
from hub.services.tables import ledger, proofs

N = 10_000


@contextmanager
def tampered(
    engine: Engine,
    change: Callable[[sa.Connection], object],
    seqs: tuple[int, ...] = (),
    proof_ids: tuple[str, ...] = (),
) -> Iterator[None]:
    """Apply ``change`` to the rows it names, and put those rows back afterwards."""
    with engine.connect() as conn:
        saved_ledger = [
            dict(r._mapping) for r in conn.execute(sa.select(ledger).where(ledger.c.seq.in_(seqs)))
        ]
        saved_proofs = [
            dict(r._mapping)
            for r in conn.execute(sa.select(proofs).where(proofs.c.proof_id.in_(proof_ids)))
        ]
    with engine.begin() as conn:
        change(conn)
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(ledger.delete().where(ledger.c.seq.in_(seqs)))
            if saved_ledger:
                conn.execute(ledger.insert(), saved_ledger)
            conn.execute(proofs.delete().where(proofs.c.proof_id.in_(proof_ids)))
            if saved_proofs:
                conn.execute(proofs.insert(), saved_proofs)


def edit(seq: int) -> Callable[[sa.Connection], object]:
    return lambda conn: conn.execute(
        ledger.update().where(ledger.c.seq == seq).values(doc_hash="f" * 64)
    )


def delete(seq: int) -> Callable[[sa.Connection], object]:
    return lambda conn: conn.execute(ledger.delete().where(ledger.c.seq == seq))


def swap(a: int, b: int) -> Callable[[sa.Connection], object]:
    def run(conn: sa.Connection) -> None:
        conn.execute(ledger.update().where(ledger.c.seq == a).values(seq=-1))
        conn.execute(ledger.update().where(ledger.c.seq == b).values(seq=a))
        conn.execute(ledger.update().where(ledger.c.seq == -1).values(seq=b))

    return run


def verify(url: str, trust: str, capsys: Any) -> tuple[int, str]:
    code = main(["ledger", "verify", "--database", url, "--trust", trust])
    return code, capsys.readouterr().out


async def test_ledger_of_10000_proofs_finds_tampering(
    services_hub: Any, people: Any, registry_url: str, capsys: Any
) -> None:
    sh = await services_hub(checkpoint_every=1000)
    svc = sh.services
    name, number = people[2]
    for batch in range(N // 1000):
        reqs = [
            ProofRequest(f"bulk-{batch}-{i}", "residence_proof", Subject(number, name), "hall-2")
            for i in range(1000)
        ]
        await asyncio.to_thread(svc.proofs.issue_many, reqs, sh.device_id)
    engine = sh.rh.hub.engine
    trust = str(sh.trust_path)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ledger)).scalar() == N

    code, out = await asyncio.to_thread(verify, registry_url, trust, capsys)
    assert code == 0, out
    assert f"ledger holds: {N} entries, 10 signed checkpoints" in out

    cases = [
        (edit(4321), (4321,), "entry 4321"),
        (delete(2500), (2500,), "entry 2500: entry 2500 is missing"),
        (delete(N), (N,), f"entry {N}"),  # the last row: only the signed checkpoint can tell
        (swap(7000, 7001), (7000, 7001), "entry 7000"),
    ]
    for change, seqs, expected in cases:
        with tampered(engine, change, seqs):
            code, out = await asyncio.to_thread(verify, registry_url, trust, capsys)
            assert code == 1 and f"ledger broken at {expected}" in out, (expected, out)
        code, out = await asyncio.to_thread(verify, registry_url, trust, capsys)
        assert code == 0, out

    # A proof's own row edited (its document hash) is found against its ledger entry.
    with engine.connect() as conn:
        proof_id = conn.execute(sa.select(ledger.c.proof_id).where(ledger.c.seq == 123)).scalar()

    def edit_proof(conn: sa.Connection) -> None:
        conn.execute(proofs.update().where(proofs.c.proof_id == proof_id).values(doc_hash="0" * 64))

    with tampered(engine, edit_proof, proof_ids=(proof_id,)):
        code, out = await asyncio.to_thread(verify, registry_url, trust, capsys)
        assert code == 1 and "ledger broken at entry 123" in out and proof_id in out

    # The API's walk agrees, and a revocation is one more entry that holds.
    status, report = await sh.admin("GET", "/services/ledger/verify")
    assert status == 200 and report["ok"] and report["entries"] == N
    status, _ = await sh.admin("POST", f"/services/proofs/{proof_id}/revoke", json={"reason": "x"})
    status, cp = await sh.admin("POST", "/services/ledger/checkpoints")
    assert status == 201 and cp["seq"] == N + 1
    status, latest = await sh.public("GET", "/services/ledger/checkpoints/latest")
    assert latest["seq"] == N + 1 and latest["signature"] == cp["signature"]
    code, out = await asyncio.to_thread(verify, registry_url, trust, capsys)
    assert code == 0 and f"{N + 1} entries, 11 signed checkpoints" in out
