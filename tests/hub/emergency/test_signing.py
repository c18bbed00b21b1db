"""Webhook signatures: HMAC-SHA256 (RFC 2104) over "timestamp." + body."""

from __future__ import annotations

from hub.emergency.signing import sign, verify

# RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
RFC4231_CASE2 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    # HMAC written out from RFC 2104 (checked against RFC 4231 below) over "1700000000.{}".
    import hashlib

    key = b"Jefe".ljust(64, b"\0")
    message = b"1700000000.{}"
    inner = hashlib.sha256(bytes(k ^ 0x36 for k in key) + message).digest()
    outer = hashlib.sha256(bytes(k ^ 0x5C for k in key) + inner).hexdigest()
    assert sign("Jefe", 1700000000, b"{}") == "sha256=" + outer


def test_definition_matches_rfc4231_vector() -> None:
    import hashlib

    key = b"Jefe".ljust(64, b"\0")
    message = b"what do ya want for nothing?"
    inner = hashlib.sha256(bytes(k ^ 0x36 for k in key) + message).digest()
    assert hashlib.sha256(bytes(k ^ 0x5C for k in key) + inner).hexdigest() == RFC4231_CASE2


def test_verify_accepts_fresh_and_refuses_tampered_or_stale() -> None:
    body = b'{"cursor":1}'
    sig = sign("s" * 16, 1_700_000_000, body)
    assert verify("s" * 16, "1700000000", body, sig, now=1_700_000_010)
    assert not verify("s" * 16, "1700000000", body + b" ", sig, now=1_700_000_010)
    assert not verify("t" * 16, "1700000000", body, sig, now=1_700_000_010)
    assert not verify("s" * 16, "1700000000", body, sig, now=1_700_001_000)
    assert not verify("s" * 16, "soon", body, sig, now=1_700_000_010)
