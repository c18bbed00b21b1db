"""HMAC-SHA256 signatures of webhook deliveries (sans-I/O, shared by sender and receivers).

The signed text is ``"{timestamp}." + body``; a receiver recomputes it with the shared secret,
compares in constant time and refuses timestamps older than a few minutes (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Govedge-Signature"
TIMESTAMP_HEADER = "X-Govedge-Timestamp"
EVENT_HEADER = "X-Govedge-Event"
DELIVERY_HEADER = "X-Govedge-Delivery"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """A webhook delivery's signature: HMAC-SHA256 of the timestamp and the body."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance_s: float = 300.0,
) -> bool:
    """True if ``signature`` is the secret's over this body and the timestamp is fresh."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)
