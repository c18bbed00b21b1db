"""Proofs issued through the API, checked by code we did not write: base45, zlib, cbor2 and
pycose decode them, and ``cryptography`` verifies the Ed25519 signature over the COSE
Sig_structure. The same proofs are refused when a byte changes, the key is unknown, the proof
has expired or it is revoked."""

from __future__ import annotations

import asyncio
import base64
import json
import zlib
from pathlib import Path
from typing import Any

import base45
import cbor2
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from pycose.algorithms import EdDSA
from pycose.headers import KID, Algorithm
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import Sign1Message

from govedge.cli import main

B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


@pytest.fixture
def registry_url(tmp_path: Path) -> str:
    """Proof encoding does not depend on the database: SQLite only (the ledger test has both)."""
    return f"sqlite:///{tmp_path / 'registry.db'}"


def unpack(qr_text: str) -> tuple[bytes, dict[Any, Any], bytes, bytes]:
    """(protected header bytes, protected header, payload, signature) by the libraries alone."""
    assert qr_text.startswith("GE1:")
    cose = zlib.decompress(base45.b45decode(qr_text[4:]))
    tagged = cbor2.loads(cose)
    assert isinstance(tagged, cbor2.CBORTag) and tagged.tag == 18  # COSE_Sign1
    protected_bytes, _unprotected, payload, signature = tagged.value
    return protected_bytes, cbor2.loads(protected_bytes), payload, signature


def sig_structure(protected_bytes: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected_bytes, b"", payload])  # RFC 9052 §4.4


def repack(protected_bytes: bytes, payload: bytes, signature: bytes) -> str:
    cose = cbor2.dumps(cbor2.CBORTag(18, [protected_bytes, {}, payload, signature]))
    return "GE1:" + base45.b45encode(zlib.compress(cose)).decode()


async def public_keys(sh: Any) -> dict[bytes, Ed25519PublicKey]:
    status, body = await sh.public("GET", "/services/proof-keys")
    assert status == 200
    return {
        bytes.fromhex(k["kid"]): Ed25519PublicKey.from_public_bytes(
            base64.b64decode(k["public_key"])
        )
        for k in body["keys"]
    }


async def test_third_party_decoders_verify_the_proof(
    services_hub: Any, proof_body: Any, people: Any
) -> None:
    sh = await services_hub()
    status, issued = await sh.kiosk(
        "POST",
        "/services/proofs",
        json=proof_body("tp-1", facts={"address": "上海市黄浦区人民大道200号"}),
    )
    assert status == 201
    protected_bytes, protected, payload, signature = unpack(issued["qr_text"])
    assert protected[1] == -8  # alg: EdDSA
    keys = await public_keys(sh)
    kid = protected[4]
    assert kid in keys and len(kid) == 8
    keys[kid].verify(signature, sig_structure(protected_bytes, payload))  # raises if forged
    doc = cbor2.loads(payload)
    assert doc["id"] == issued["proof_id"] and doc["pt"] == "residence_proof"
    assert doc["sb"] == {"id": "110105********002X", "nm": people[0][0]}
    assert doc["ti"] == {"zh-CN": "居住证明", "en": "Proof of residence"}
    assert doc["is"]["hl"] == "hall-1" and doc["is"]["nm"]
    assert doc["at"] == {"address": "上海市黄浦区人民大道200号"}
    assert doc["exp"] - doc["iat"] == 90 * 86400
    # pycose's own decoder and verifier agree.
    msg = Sign1Message.decode(zlib.decompress(base45.b45decode(issued["qr_text"][4:])))
    raw = keys[kid].public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    msg.key = OKPKey(crv=Ed25519, x=raw)
    assert msg.verify_signature()
    # A proof type that needs the full ID number carries it.
    status, full = await sh.kiosk(
        "POST", "/services/proofs", json=proof_body("tp-2", proof_type="social_security_record")
    )
    assert cbor2.loads(unpack(full["qr_text"])[2])["sb"]["id"] == people[0][1]
    assert full["subject_masked"]["id_number"] == "110105********002X"


async def test_refusals(services_hub: Any, proof_body: Any, tmp_path: Path, capsys: Any) -> None:
    sh = await services_hub()
    status, issued = await sh.kiosk("POST", "/services/proofs", json=proof_body("rf-1"))
    qr = issued["qr_text"]
    status, verdict = await sh.public("POST", "/services/verify", json={"qr_text": qr})
    assert status == 200 and verdict["valid"] is True and verdict["revoked"] is False
    assert verdict["summary"]["title"]["zh-CN"] == "居住证明"

    # One character of the QR text changed, anywhere: refused.
    step = max(1, (len(qr) - 4) // 12)
    for i in range(4, len(qr), step):
        other = B45[(B45.index(qr[i]) + 1) % len(B45)]
        status, verdict = await sh.public(
            "POST", "/services/verify", json={"qr_text": qr[:i] + other + qr[i + 1 :]}
        )
        assert status == 200 and verdict["valid"] is False, i

    # One byte of the signed document changed and repacked properly: the signature fails, both
    # for the hub and for cryptography.
    protected_bytes, protected, payload, signature = unpack(qr)
    forged_payload = payload.replace(b"hall-1", b"hall-9")
    assert forged_payload != payload
    forged = repack(protected_bytes, forged_payload, signature)
    status, verdict = await sh.public("POST", "/services/verify", json={"qr_text": forged})
    assert verdict["valid"] is False and verdict["offline"]["reason"] == "bad_signature"
    keys = await public_keys(sh)
    with pytest.raises(InvalidSignature):
        keys[protected[4]].verify(signature, sig_structure(protected_bytes, forged_payload))

    # Signed with a key the trust list does not hold: refused as unknown.
    stranger = Ed25519PrivateKey.generate()
    raw_d = stranger.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    msg = Sign1Message(phdr={Algorithm: EdDSA, KID: b"\x01" * 8}, payload=payload)
    msg.key = OKPKey(
        crv=Ed25519,
        d=raw_d,
        x=stranger.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        ),
    )
    foreign = "GE1:" + base45.b45encode(zlib.compress(msg.encode())).decode()
    status, verdict = await sh.public("POST", "/services/verify", json={"qr_text": foreign})
    assert verdict["valid"] is False and verdict["offline"]["reason"] == "unknown_key"

    # Offline with the command line: valid now, expired after its expiry.
    doc = cbor2.loads(payload)
    trust = str(sh.trust_path)
    assert main(["verify-proof", qr, "--trust", trust]) == 0
    out = capsys.readouterr().out
    assert out.startswith("VALID") and "居住证明" in out and "110105********002X" in out
    assert main(["verify-proof", qr, "--trust", trust, "--at", str(doc["exp"] + 1)]) == 1
    assert "expired" in capsys.readouterr().out
    assert main(["verify-proof", foreign, "--trust", trust]) == 1
    assert "no trusted issuer" in capsys.readouterr().out
    assert main(["verify-proof", "hello", "--trust", trust]) == 1
    assert "not a proof" in capsys.readouterr().out
    assert main(["verify-proof", qr, "--trust", trust, "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["valid"] and answer["offline"]["document"]["id"] == issued["proof_id"]

    # Revoked: the online check refuses it (API and command line with --hub).
    status, _ = await sh.admin(
        "POST", f"/services/proofs/{issued['proof_id']}/revoke", json={"reason": "lost"}
    )
    status, verdict = await sh.public("POST", "/services/verify", json={"qr_text": qr})
    assert verdict["valid"] is False and verdict["revoked"] is True
    assert verdict["offline"]["valid"] is True  # the paper itself is genuine
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["verify-proof", qr, "--hub", sh.rh.url]) == 1
    assert "REVOKED" in capsys.readouterr().out


async def test_rotation_keeps_old_proofs_valid(services_hub: Any, proof_body: Any) -> None:
    sh = await services_hub()
    _, old = await sh.kiosk("POST", "/services/proofs", json=proof_body("rot-1"))
    status, rotated = await sh.admin("POST", "/services/proof-keys/rotate")
    assert status == 201
    _, new = await sh.kiosk("POST", "/services/proofs", json=proof_body("rot-2"))
    assert old["kid"] != new["kid"] == rotated["kid"]
    status, trust = await sh.public("GET", "/services/proof-keys")
    by_kid = {k["kid"]: k for k in trust["keys"]}
    assert by_kid[old["kid"]]["retired"] and by_kid[new["kid"]]["retired"] is None
    for proof in (old, new):
        _, verdict = await sh.public("POST", "/services/verify", json={"qr_text": proof["qr_text"]})
        assert verdict["valid"] is True
    # A retry of the request issued under the old key still gets the same proof.
    status, again = await sh.kiosk("POST", "/services/proofs", json=proof_body("rot-1"))
    assert status == 200 and again["qr_text"] == old["qr_text"]
    # The proof key lives apart: its own folder, private files readable by the owner only.
    pems = sorted(sh.keys_dir.glob("proof-*.pem"))
    assert len(pems) == 2 and all(p.stat().st_mode & 0o077 == 0 for p in pems)


def test_verify_proof_fetches_from_a_hub_only_over_http(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--hub is the hub's web address: a file: URL is refused, not read from the disk."""
    keys = tmp_path / "api" / "v1" / "services" / "proof-keys"
    keys.parent.mkdir(parents=True)
    keys.write_text('{"keys": []}')
    assert main(["verify-proof", "hello", "--hub", tmp_path.as_uri()]) == 2
    assert "must start with http:// or https://" in capsys.readouterr().err
