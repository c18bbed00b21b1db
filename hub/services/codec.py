"""A proof on paper: CBOR document -> COSE_Sign1 (Ed25519) -> zlib -> Base45, as the EU Digital
COVID Certificate does, with our own prefix ``GE1:`` so that no DCC app mistakes it for one.

CBOR (cbor2), COSE (pycose) and Base45 (base45) are well-kept libraries. Issuing, the hot
path, builds the COSE_Sign1 message with cbor2, deflates with libdeflate and encodes Base45
with the vectorised encoder of base45_encode.py (each far cheaper than pycose, the standard
zlib and the base45 package); verifying reads every proof with the base45 package, zlib and
pycose, which is how the tests check that what we issue is standard.

The document is encoded canonically (RFC 8949 §4.2), so the same facts always give the same
bytes, and Ed25519 signatures are deterministic, so the same document and key always give the
same QR text: a retried print gets the same proof.

The document (a CBOR map, short text keys to keep the QR small)::

    v    1                      format version
    id   proof id               GB/T 36904-style identifier (see ids.py)
    pt   proof type             e.g. "residence_proof"
    ti   {"zh-CN", "en"}        what the proof attests, for the verifier's screen
    sb   {"id", "nm"}           subject: ID number (masked unless the type needs it) and name
    is   {"cd", "nm", "en", "hl"}  issuing office: credit code, names, hall
    at   {...}                  the attested facts of the proof type (may be empty)
    iat  issue time             Unix seconds
    exp  expiry                 Unix seconds

The protected header holds the algorithm (EdDSA) and the key id (kid).
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import base45
import cbor2
import deflate
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pycose.algorithms import EdDSA
from pycose.headers import KID, Algorithm
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import Sign1Message

from hub.services.base45_encode import b45encode_many
from hub.services.errors import ProofRejected
from hub.services.keys import TrustList

PREFIX = "GE1:"
MAX_QR_TEXT = 4000  # far above a receipt's QR; refuses junk before decompressing it
MAX_INFLATED = 16_384  # a zip bomb in a QR stops here
# The zlib stream is made by libdeflate (the ``deflate`` package), about a third cheaper than the
# standard library's zlib on a proof's ~390 bytes, for the same size; any zlib inflates it. The
# level hardly changes the time there, and 9 keeps the QR as small as zlib's best.
ZLIB_LEVEL = 9
COSE_ALG, COSE_KID, COSE_EDDSA = 1, 4, -8  # RFC 9052 header labels, RFC 9053 algorithm id


class _Encoders(threading.local):
    """A plain and a canonical cbor2 encoder per thread, kept: ``cbor2.dumps`` sets up a new
    encoder at every call, which costs more than encoding a whole proof."""

    def __init__(self) -> None:
        self.fp = io.BytesIO()
        self.plain = cbor2.CBOREncoder(self.fp)
        self.canonical = cbor2.CBOREncoder(self.fp, canonical=True)

    def dumps(self, obj: Any, canonical: bool) -> bytes:
        fp = self.fp
        fp.seek(0)
        fp.truncate()
        (self.canonical if canonical else self.plain).encode(obj)
        return fp.getvalue()


_encoders = _Encoders()


def cbor_dumps(obj: Any, canonical: bool = False) -> bytes:
    """``cbor2.dumps(obj, canonical=canonical)``, the same bytes, with this thread's encoder."""
    return _encoders.dumps(obj, canonical)


def encode_document(doc: dict[str, Any]) -> bytes:
    """A proof document as canonical CBOR, so its hash does not depend on key order."""
    return cbor_dumps(doc, canonical=True)


def document_hash(payload: bytes) -> str:
    """What the ledger records for a proof: SHA-256 (hex) of its canonical CBOR document."""
    return hashlib.sha256(payload).hexdigest()


class Signer:
    """Makes the QR text of documents with one proof key.

    The COSE_Sign1 message is built here with cbor2 rather than through pycose, whose message
    objects cost more per proof than the signature itself: the protected header is encoded once
    per key, and each proof costs one Sig_structure (RFC 9052 §4.4), one Ed25519 signature by
    the key holder (as an HSM would give it), and one encoding of the tagged message. The bytes
    are those pycose makes (the tests compare them), and pycose decodes and verifies them.
    """

    def __init__(self, kid: bytes, key: Ed25519PrivateKey) -> None:
        self.kid = kid
        self._key = key
        self._phdr = cbor2.dumps({COSE_ALG: COSE_EDDSA, COSE_KID: kid})

    def cose(self, payload: bytes) -> bytes:
        """The tagged COSE_Sign1 message (tag 18) of ``payload``: [phdr, {}, payload, sig]."""
        return self._cose(payload, _encoders.dumps)

    def _cose(self, payload: bytes, dumps: Callable[[Any, bool], bytes]) -> bytes:
        phdr = self._phdr
        signature = self._key.sign(dumps(["Signature1", phdr, b"", payload], False))
        return dumps(cbor2.CBORTag(18, [phdr, {}, payload, signature]), False)

    def sign(self, payload: bytes) -> str:
        """The QR text of ``payload``: COSE_Sign1, then zlib, then Base45, after the prefix."""
        return self.sign_many([payload])[0]

    def sign_many(self, payloads: Sequence[bytes]) -> list[str]:
        """The QR texts of ``payloads`` (Base45 in one pass for all)."""
        dumps = _encoders.dumps  # this thread's encoders, looked up once for all
        cose = self._cose
        compress = deflate.zlib_compress
        packed = [compress(cose(p, dumps), ZLIB_LEVEL) for p in payloads]
        return [PREFIX + text for text in b45encode_many(packed)]


@dataclass(slots=True)
class Verdict:
    """The offline verdict on a QR text: valid or the reason it is not, and what it says."""

    valid: bool
    reason: str  # ok, malformed, unknown_key, bad_signature, expired, not_yet_valid
    message: str
    kid: str = ""
    document: dict[str, Any] = field(default_factory=dict)
    document_hash: str = ""

    def as_json(self) -> dict[str, Any]:
        """The verdict as the verify API answers it."""
        return {
            "valid": self.valid,
            "reason": self.reason,
            "message": self.message,
            "kid": self.kid,
            "document": self.document,
            "document_hash": self.document_hash,
        }


def open_qr(text: str) -> tuple[bytes, bytes, Sign1Message]:
    """Base45 -> zlib -> COSE_Sign1; returns (kid, payload, message) or ProofRejected(malformed)."""
    text = text.strip()
    if len(text) > MAX_QR_TEXT:
        raise ProofRejected("malformed", f"QR text is {len(text)} characters; not a proof")
    if not text.startswith(PREFIX):
        raise ProofRejected("malformed", f"QR text does not start with {PREFIX}; not a proof")
    try:
        packed = base45.b45decode(text[len(PREFIX) :])
    except ValueError as exc:
        raise ProofRejected("malformed", f"QR text is not Base45: {exc}") from None
    try:
        inflater = zlib.decompressobj()
        cose = inflater.decompress(packed, MAX_INFLATED)
        if inflater.unconsumed_tail or not inflater.eof:
            raise ProofRejected("malformed", "compressed proof is truncated or too large")
    except zlib.error as exc:
        raise ProofRejected("malformed", f"proof is not zlib data: {exc}") from None
    try:
        msg = Sign1Message.decode(cose)
    except Exception as exc:  # noqa: BLE001 - pycose raises bare TypeError, KeyError, ...
        raise ProofRejected("malformed", f"not a COSE_Sign1 message: {exc}") from None
    kid = msg.phdr.get(KID)
    if not isinstance(kid, bytes) or msg.phdr.get(Algorithm) is not EdDSA:
        raise ProofRejected("malformed", "COSE header lacks the EdDSA algorithm or the key id")
    if not isinstance(msg.payload, bytes):
        raise ProofRejected("malformed", "COSE_Sign1 carries no payload")
    return kid, msg.payload, msg


def verify_qr(text: str, trust: TrustList, now: float | None = None) -> Verdict:
    """Check a proof offline with the public keys alone. Never raises on bad input."""
    try:
        kid, payload, msg = open_qr(text)
    except ProofRejected as exc:
        return Verdict(False, exc.reason, str(exc))
    key = trust.get(kid)
    if key is None:
        return Verdict(
            False,
            "unknown_key",
            f"signed with key {kid.hex()}, which no trusted issuer holds",
            kid.hex(),
        )
    raw_x = key.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    msg.key = OKPKey(crv=Ed25519, x=raw_x)
    try:
        good = bool(msg.verify_signature())
    except Exception:  # noqa: BLE001 - a malformed signature is a bad signature
        good = False
    if not good:
        return Verdict(
            False, "bad_signature", "the signature does not match: altered or forged", kid.hex()
        )
    try:
        doc = cbor2.loads(payload)
        if not isinstance(doc, dict):
            raise ValueError("not a map")
        iat, exp = int(doc["iat"]), int(doc["exp"])
    except Exception as exc:  # noqa: BLE001 - a signed but unreadable document: never raises
        return Verdict(False, "malformed", f"signed document is unreadable: {exc}", kid.hex())
    digest = document_hash(payload)
    now = time.time() if now is None else now
    if now > exp:
        return Verdict(False, "expired", f"expired at {_iso(exp)}", kid.hex(), doc, digest)
    if now + 300 < iat:
        return Verdict(
            False, "not_yet_valid", f"issued in the future ({_iso(iat)})", kid.hex(), doc, digest
        )
    return Verdict(True, "ok", "valid: signed by a trusted issuer", kid.hex(), doc, digest)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
