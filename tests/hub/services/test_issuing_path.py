"""The fast issuing path gives what the well-kept libraries give: Base45 as RFC 9285 and the
``base45`` package, COSE_Sign1 bytes as pycose makes them, canonical CBOR as cbor2 makes it.
Concurrent issues share transactions (group commit) and a failing one fails alone; the ledger's
in-memory head never lets a chain fork when another worker or a rollback moved the real one."""

from __future__ import annotations

import os
import random
import threading
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

import base45
import cbor2
import pytest
import sqlalchemy as sa
from pycose.algorithms import EdDSA
from pycose.headers import KID, Algorithm
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import Sign1Message

from hub.db import make_engine
from hub.services.base45_encode import b45encode, b45encode_many
from hub.services.codec import Signer, cbor_dumps
from hub.services.group_commit import GroupCommit
from hub.services.keys import ProofKeyring
from hub.services.ledger import Ledger, verify_ledger
from hub.services.proofs import ProofRequest, ProofService, Subject
from hub.services.tables import create_tables, ledger_head, proofs
from hub.settings import ServicesConfig

ID_NUMBER = "11010519491231002X"


def request(request_id: str, facts: dict[str, str] | None = None) -> ProofRequest:
    return ProofRequest(
        request_id, "residence_proof", Subject(ID_NUMBER, "张三丰"), "hall-1", facts=facts or {}
    )


# -- Base45 ----------------------------------------------------------------------------------


def test_base45_rfc9285_examples() -> None:
    # RFC 9285 §4.3 and §4.4
    assert b45encode(b"AB") == "BB8"
    assert b45encode(b"Hello!!") == "%69 VD92EX0"
    assert b45encode(b"base-45") == "UJCLQE7W581"
    assert b45encode(b"ietf!") == "QED8WEX0"
    assert b45encode(b"") == ""


def test_base45_agrees_with_the_base45_package() -> None:
    rng = random.Random(9285)
    blobs = [rng.randbytes(n) for n in range(0, 700)]
    blobs += [b"\x00", b"\xff", b"\x00\x00", b"\xff\xff", b"\xff\xff\xff", bytes(range(256))]
    for blob in blobs:
        text = b45encode(blob)
        assert text.encode() == base45.b45encode(blob), blob
        assert base45.b45decode(text) == blob
    # Many at once (the batch path) equal one by one, odd and even lengths mixed.
    assert b45encode_many(blobs) == [base45.b45encode(b).decode() for b in blobs]
    assert b45encode_many([bytearray(b"ietf!"), b""]) == ["QED8WEX0", ""]


# -- COSE and CBOR ---------------------------------------------------------------------------


def test_cose_bytes_are_pycose_bytes(tmp_path: Path) -> None:
    kid, key = ProofKeyring(tmp_path / "keys").current()
    signer = Signer(kid, key)
    payload = cbor2.dumps({"v": 1, "id": "x", "nm": "张三丰"}, canonical=True)
    ours = signer.cose(payload)

    msg = Sign1Message(phdr={Algorithm: EdDSA, KID: kid}, payload=payload)
    msg.signature = key.sign(cbor2.dumps(["Signature1", msg.phdr_encoded, b"", payload]))
    assert ours == msg.encode(sign=False)

    decoded = Sign1Message.decode(zlib.decompress(base45.b45decode(signer.sign(payload)[4:])))
    raw = key.public_key().public_bytes_raw()
    decoded.key = OKPKey(crv=Ed25519, x=raw)
    assert decoded.verify_signature() and decoded.payload == payload


def test_kept_encoders_give_cbor2_bytes() -> None:
    rng = random.Random(8949)

    def value(depth: int = 0) -> object:
        roll = rng.random()
        if depth > 3 or roll < 0.35:
            return rng.choice([0, -7, 2**40, "x", "证照" * rng.randint(0, 9), os.urandom(9), None])
        if roll < 0.6:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        keys = ["a", "bb", "zh-CN", "en", "地址", "k" * 30, ""]
        return {rng.choice(keys) + str(rng.randint(0, 30)): value(depth + 1) for _ in range(5)}

    for _ in range(500):
        obj = value()
        assert cbor_dumps(obj) == cbor2.dumps(obj)
        assert cbor_dumps(obj, canonical=True) == cbor2.dumps(obj, canonical=True)


def test_document_is_built_in_canonical_order(tmp_path: Path) -> None:
    service = ProofService(None, ProofKeyring(tmp_path / "keys"), None, ServicesConfig())  # type: ignore[arg-type]
    facts = {"zz": "1", "a": "2", "地址": "上海", "b" * 32: "3", "ab": "4", "B": "5"}
    for f in ({}, facts, dict(reversed(facts.items()))):
        req = request("r", f)
        doc = service.document(req, "1.2.156.3005.2.x", 1_765_000_000, 1_766_000_000)
        assert service.payload(req, "1.2.156.3005.2.x", 1_765_000_000, 1_766_000_000) == (
            cbor2.dumps(doc, canonical=True)
        )


def test_payload_pieces_give_the_documents_cbor(tmp_path: Path) -> None:
    """The payload, put together from fixed pieces, is the canonical CBOR of the document for
    every proof type, text lengths across CBOR's length forms, times and office settings."""
    from hub.services.catalog_data import PROOF_TYPES

    keyring = ProofKeyring(tmp_path / "keys")
    rng = random.Random(8949)

    def text(n: int) -> str:
        return "".join(rng.choice("aZ9-证照地址 ") for _ in range(n))

    configs = [
        ServicesConfig(),
        ServicesConfig(office_name=text(90), office_name_en=text(300), office_code="X"),
    ]
    for config in configs:
        service = ProofService(None, keyring, None, config)  # type: ignore[arg-type]
        for _ in range(300):
            facts = {
                text(rng.randint(1, 32)): text(rng.choice([0, 5, 23, 24, 90, 200]))
                for _ in range(rng.randint(0, 8))
            }
            req = ProofRequest(
                text(rng.randint(1, 100)),
                rng.choice(list(PROOF_TYPES)),
                Subject(ID_NUMBER, text(rng.randint(1, 50))),
                text(rng.randint(1, 64)),
                facts=facts,
            )
            proof_id, iat = (
                text(rng.randint(1, 128)),
                rng.choice([0, 23, 255, 65_536, 2**32, 2**40]),
            )
            exp = iat + rng.randint(0, 400) * 86400
            assert service.payload(req, proof_id, iat, exp) == cbor2.dumps(
                service.document(req, proof_id, iat, exp), canonical=True
            )
        # A changed setting is taken at the next proof.
        service.config = ServicesConfig(office_name="另一个中心")
        doc = service.document(request("r"), "x", 1, 2)
        assert service.payload(request("r"), "x", 1, 2) == cbor2.dumps(doc, canonical=True)


# -- group commit ----------------------------------------------------------------------------


def test_group_commit_groups_what_arrives_during_a_write() -> None:
    release = threading.Event()
    groups: list[list[int]] = []

    def write(items: Sequence[int]) -> None:
        groups.append(list(items))
        if len(groups) == 1:
            assert release.wait(30)

    committer: GroupCommit[int] = GroupCommit(write)
    first = threading.Thread(target=committer.submit, args=(0,))
    first.start()
    deadline = time.monotonic() + 30
    while not groups and time.monotonic() < deadline:
        time.sleep(0.01)
    others = [threading.Thread(target=committer.submit, args=(i,)) for i in range(1, 6)]
    for t in others:
        t.start()
    while len(committer._queue) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for t in [first, *others]:
        t.join(30)
    assert groups[0] == [0]
    assert sorted(groups[1]) == [1, 2, 3, 4, 5]  # one transaction for the five that waited
    assert committer.groups == 2 and committer.largest == 5


def test_group_commit_failure_fails_alone() -> None:
    written: list[int] = []

    def write(items: Sequence[int]) -> None:
        if 13 in items:
            raise ValueError("thirteen")
        written.extend(items)

    committer: GroupCommit[int] = GroupCommit(write)
    committer._writing = True  # hold the next group back until all five are queued
    results: dict[int, str] = {}

    def submit(i: int) -> None:
        try:
            committer.submit(i)
            results[i] = "ok"
        except ValueError as exc:
            results[i] = str(exc)

    threads = [threading.Thread(target=submit, args=(i,)) for i in (11, 12, 13, 14, 15)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(committer._queue) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    with committer._cond:
        committer._writing = False
        committer._cond.notify_all()
    for t in threads:
        t.join(30)
    assert results == {11: "ok", 12: "ok", 13: "thirteen", 14: "ok", 15: "ok"}
    assert sorted(written) == [11, 12, 14, 15]


def service_on(url: str, keys: Path, checkpoint_every: int = 10) -> ProofService:
    engine = make_engine(url)
    create_tables(engine)
    keyring = ProofKeyring(keys)
    chain = Ledger(engine, keyring, checkpoint_every)
    chain.ensure_head()
    return ProofService(engine, keyring, chain, ServicesConfig())


def test_concurrent_issues_share_transactions_and_one_chain(tmp_path: Path) -> None:
    service = service_on(f"sqlite:///{tmp_path / 'p.db'}", tmp_path / "keys")
    errors: list[BaseException] = []
    answers: list[tuple[str, bool]] = []
    barrier = threading.Barrier(8)

    def run(n: int) -> None:
        try:
            barrier.wait(30)
            for i in range(10):
                # Seven of the eight send the same ten request ids: retries racing each other.
                issued, created = service.issue(request(f"k{min(n, 1)}-{i}"), "kiosk")
                answers.append((issued.proof_id, created))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    created = {p for p, new in answers if new}
    assert len(answers) == 80 and len({p for p, _ in answers}) == len(created) == 20
    report = verify_ledger(service.engine, service.keyring.trust())
    assert report.ok and report.entries == 20 and report.checkpoints == 2, report.text()
    assert service._group.groups <= 80  # (how many groups formed depends on the scheduler)
    service.engine.dispose()


# -- the ledger head kept in memory ----------------------------------------------------------


@pytest.mark.parametrize("rolled_back", [False, True])
def test_memory_head_follows_other_workers_and_rollbacks(tmp_path: Path, rolled_back: bool) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    a = service_on(url, tmp_path / "keys")
    b = service_on(url, tmp_path / "keys")
    a.keyring.current()
    for i in range(6):  # the two workers take turns: each finds the head moved by the other
        (a if i % 2 else b).issue(request(f"t-{i}"), "kiosk")
    if rolled_back:
        # A transaction that appended and then rolled back leaves a head in memory that the
        # database never had; the next append must chain onto the real one.
        with pytest.raises(RuntimeError), a.engine.begin() as conn:
            a.ledger.append(conn, [("issued", "ghost", "0" * 64)])
            raise RuntimeError("rolled back")
        with a.engine.connect() as conn:
            assert conn.execute(sa.select(ledger_head.c.seq)).scalar() == 6
    a.issue(request("after"), "kiosk")
    b.issue(request("after-b"), "kiosk")
    report = verify_ledger(a.engine, a.keyring.trust())
    assert report.ok and report.entries == 8, report.text()
    with a.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(proofs)).scalar() == 8
    for s in (a, b):
        s.engine.dispose()


def test_id_number_check_is_gb11643() -> None:
    """The subject's ID number check, as GB 11643-1999 defines it, on every check character."""
    from hub.services.ids import id_number_ok

    weights = [2 ** (17 - i) % 11 for i in range(17)]  # the standard's W_i = 2^(i-1) mod 11
    rng = random.Random(11643)
    for _ in range(20_000):
        body = str(rng.randint(10**16, 10**17 - 1))
        right = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
        assert id_number_ok(body + right)
        wrong = rng.choice([c for c in "0123456789X" if c != right])
        assert not id_number_ok(body + wrong)
    for bad in ("", "01010519491231002X", "11010519491231002x", "1101051949123100２X", "1" * 19):
        assert not id_number_ok(bad)


def test_proof_ids_carry_their_check_character() -> None:
    """Proof ids of any day pass the ISO/IEC 7064 MOD 37,36 check and no other character does."""
    from hub.services.ids import _ALNUM, new_proof_id, proof_id_ok

    for now in (0.0, 1_765_000_000.0, 1_765_086_399.0, 1_765_086_400.0, 4_102_444_800.0):
        for _ in range(500):
            proof_id = new_proof_id("11100000000000101", "11310000MB0000000X", now)
            assert proof_id_ok(proof_id), proof_id
            assert proof_id.split(".")[7][:8] == time.strftime("%Y%m%d", time.gmtime(now))
            for other in set(_ALNUM) - {proof_id[-1]}:
                assert not proof_id_ok(proof_id[:-1] + other)


def test_proof_ids_from_batch_random_bytes() -> None:
    """A serial's random part drawn by the caller (the batch path draws one block for all)
    gives the same id and check character as the one-by-one path, for every byte value."""
    from hub.services.ids import iso7064_mod37_36, new_proof_id, proof_id_ok

    rng = random.Random(7064)
    for _ in range(2000):
        serial = rng.randbytes(5)
        proof_id = new_proof_id("11100000000000101", "11310000MB0000000X", 1_765_000_000, serial)
        parts = proof_id.split(".")
        assert parts[7] == "20251206" + serial.hex().upper() and proof_id_ok(proof_id)
        assert parts[9] == iso7064_mod37_36("".join(parts[5:9]))
    with pytest.raises(ValueError):
        new_proof_id("1", "X", 0, b"\x00" * 4)


def test_a_batch_names_the_bad_request_as_one_alone(tmp_path: Path) -> None:
    """``issue_many`` checks the batch's struct constraints in one pass; a bad request in it is
    refused with the very message a lone request gets, and nothing of the batch is written."""
    from hub.services.errors import BadRequest

    service = service_on(f"sqlite:///{tmp_path / 'p.db'}", tmp_path / "keys")
    bad = ProofRequest("b", "residence_proof", Subject(ID_NUMBER, "张三丰"), "h" * 65)
    wrong_id = request("w")
    wrong_id.subject = Subject("11010519491231002Y", "张三丰")
    for culprit in (bad, wrong_id):
        with pytest.raises(BadRequest) as alone:
            service.issue(culprit, "kiosk")
        with pytest.raises(BadRequest) as batched:
            service.issue_many([request("a"), culprit, request("c")], "kiosk")
        assert str(batched.value) == str(alone.value)
    with service.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(proofs)).scalar() == 0
    service.engine.dispose()


def test_sqlite_ledger_entries_are_keyed_by_rowid(tmp_path: Path) -> None:
    """On SQLite the ledger's sequence is the rowid itself: no second B-tree to write at every
    append (PostgreSQL keeps its BIGINT primary key)."""
    service = service_on(f"sqlite:///{tmp_path / 'p.db'}", tmp_path / "keys")
    service.issue_many([request(f"r{i}") for i in range(5)], "kiosk")
    with service.engine.connect() as conn:
        indexes = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'service_ledger'"
        ).all()
        rowids = conn.exec_driver_sql("SELECT rowid, seq FROM service_ledger").all()
    assert indexes == [] and [r for r, _ in rowids] == [s for _, s in rowids] == [1, 2, 3, 4, 5]
    service.engine.dispose()
