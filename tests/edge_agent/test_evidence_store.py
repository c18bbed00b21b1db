"""The terminal's evidence store: signed, chained records that survive kill -9 whole or not at
all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from edge_agent.evidence.store import EvidenceError, EvidenceStore
from govedge.contract import evidence as ev


def _store(folder: Path, key: ec.EllipticCurvePrivateKey | None = None) -> EvidenceStore:
    return EvidenceStore(folder, "insp-unit", key or ec.generate_private_key(ec.SECP256R1()))


def _append(store: EvidenceStore, i: int, photo: bytes | None = b"jpeg") -> None:
    store.append(
        task_id="T1",
        item_id=f"q{i}",
        answer="pass",
        note="",
        inspector_id="insp-007",
        photo=photo + bytes([i % 256]) if photo is not None else None,
        position=None,
        since_contact_s=12.5,
    )


def test_records_are_chained_and_signed_with_the_device_key(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    store = _store(tmp_path, key)
    for i in range(3):
        _append(store, i)
    rows = store.all_records()
    assert [r.seq for r in rows] == [1, 2, 3]
    first = ev.decode(rows[0].body)
    assert first.prev_hash == ev.GENESIS and first.fix == ev.NO_FIX and first.position is None
    assert first.since_contact_s == 12.5 and first.inspector_id == "insp-007"
    assert ev.decode(rows[1].body).prev_hash == rows[0].hash
    # the signature checked by cryptography directly, not through our helpers
    key.public_key().verify(rows[2].sig, rows[2].body, ec.ECDSA(hashes.SHA256()))
    checked = ev.check_run(
        [(r.body, r.sig) for r in rows],
        key.public_key(),
        device_id="insp-unit",
        prev_hash=ev.GENESIS,
        prev_seq=0,
    )
    assert checked.problem is None and len(checked.records) == 3


def test_ack_drops_photos_and_sweep_drops_orphans(tmp_path: Path) -> None:
    store = _store(tmp_path)
    for i in range(3):
        _append(store, i)
    assert store.counts() == {"pending_records": 3, "pending_photos": 3, "acked": 0}
    orphan = store.put_photo(b"taken, then the power went")
    assert store.acknowledge(2) == 2
    assert sorted(p.name for p in store.photos.iterdir()) == sorted(
        [store.pending()[0].photo_sha256, orphan]
    )
    assert store.sweep() == 1
    assert [r.seq for r in store.pending()] == [3]


def test_refuses_keys_and_input_it_cannot_sign_honestly(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="P-256"):
        EvidenceStore(tmp_path, "x", ed25519.Ed25519PrivateKey.generate())  # type: ignore[arg-type]
    store = _store(tmp_path / "s")
    with pytest.raises(EvidenceError, match="required"):
        store.append(
            task_id="",
            item_id="q",
            answer="a",
            note="",
            inspector_id="i",
            photo=None,
            position=None,
            since_contact_s=None,
        )
    with pytest.raises(EvidenceError, match="longer"):
        store.append(
            task_id="T",
            item_id="q",
            answer="a",
            note="x" * 3000,
            inspector_id="i",
            photo=None,
            position=None,
            since_contact_s=None,
        )
    assert store.counts()["pending_records"] == 0


WRITER = textwrap.dedent(
    """
    import sys, os
    from pathlib import Path
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from edge_agent.evidence.store import EvidenceStore
    key = load_pem_private_key(Path(sys.argv[2]).read_bytes(), None)
    store = EvidenceStore(Path(sys.argv[1]), "insp-kill", key)
    i = 0
    while True:
        r = store.append(task_id="T1", item_id=f"q{i}", answer="pass", note="", inspector_id="i",
                         photo=os.urandom(200_000), position=None, since_contact_s=None)
        print(r.seq, flush=True)  # acknowledged to the caller
        i += 1
    """
)


def test_kill_9_mid_record_leaves_whole_records_only(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    key = ec.generate_private_key(ec.SECP256R1())
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    folder = tmp_path / "evidence"
    acked: list[int] = []
    for round_ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(folder), str(key_file)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ},
        )
        assert proc.stdout is not None
        want = 5 + 3 * round_
        seen = 0
        deadline = time.monotonic() + 60
        while seen < want and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line:
                acked.append(int(line))
                seen += 1
        os.kill(proc.pid, signal.SIGKILL)  # mid-record: it never stops writing
        proc.wait(10)
        acked.extend(int(x) for x in proc.stdout.read().split())
        store = EvidenceStore(folder, "insp-kill", key)
        rows = store.all_records()
        # every acknowledged record is there; the chain holds from the first
        have = {r.seq for r in rows}
        assert set(acked) <= have
        checked = ev.check_run(
            [(r.body, r.sig) for r in rows],
            key.public_key(),
            device_id="insp-kill",
            prev_hash=ev.GENESIS,
            prev_seq=0,
        )
        assert checked.problem is None, checked.problem
        # no record without its photo (a photo without a record is swept)
        for r in rows:
            assert store.photo_path(r.photo_sha256).exists()
        store.sweep()
        assert len(list(store.photos.iterdir())) == len(rows)
        store.close()
    assert len(acked) >= 5 + 8 + 11


AGENT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from sim.inspector.rig import InspectorRig
    rig = InspectorRig(Path(sys.argv[1]), device_id="insp-kill-agent").start()
    print(json.dumps({"url": rig.api_url, "token": rig.token}), flush=True)
    time.sleep(600)
    """
)

POSTER = textwrap.dedent(
    """
    import json, sys
    from kiosk.inspector.client import LocalApiClient
    api = LocalApiClient(sys.argv[1], sys.argv[2])
    i = 0
    while True:
        out = api.record(task_id="T1", item_id=f"q{i}", answer="pass", note="",
                         inspector_id="insp-007", photo=True)
        print(out["seq"], flush=True)
        i += 1
    """
)


def test_kill_9_of_app_and_agent_mid_record(tmp_path: Path) -> None:
    """The app killed mid-request, then the agent killed mid-record: every record the agent
    answered for is there, signed and chained; nothing half-written."""
    work = tmp_path / "terminal"
    agent = subprocess.Popen(
        [sys.executable, "-c", AGENT, str(work)], stdout=subprocess.PIPE, text=True
    )
    assert agent.stdout is not None
    info = json.loads(agent.stdout.readline())
    acked: list[int] = []
    try:
        for victim in ("app", "agent"):
            app = subprocess.Popen(
                [sys.executable, "-c", POSTER, info["url"], info["token"]],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert app.stdout is not None
            deadline = time.monotonic() + 60
            got = 0
            while got < 4 and time.monotonic() < deadline:
                line = app.stdout.readline()
                if line:
                    acked.append(int(line))
                    got += 1
            os.kill((app if victim == "app" else agent).pid, signal.SIGKILL)
            if victim == "agent":
                agent.wait(10)
                app.wait(30)  # its next call fails: the agent is gone
            else:
                app.wait(10)
            acked.extend(int(x) for x in app.stdout.read().split())
    finally:
        for proc in (agent,):
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "govedge",
            "evidence",
            "verify",
            str(work / "state" / "evidence"),
            "--cert",
            str(work / "identity" / "cert.pem"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    store_rows = _rows(work / "state" / "evidence" / "evidence.db")
    assert set(acked) <= store_rows and len(acked) >= 8


def _rows(path: Path) -> set[int]:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        return {int(r[0]) for r in db.execute("SELECT seq FROM records")}
    finally:
        db.close()
