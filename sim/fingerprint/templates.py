"""Synthetic fingerprint templates: deterministic bytes per finger name, never biometrics.

A simulated finger is a name ("alice-right-thumb"); its template is a fixed marker followed by
bytes drawn from SHA-256 of the name, so the same name always gives the same template and two
names never collide in practice. Nothing here resembles a real fingerprint.
"""

from __future__ import annotations

import hashlib

MARKER = b"GOVEDGE-SYNTHETIC-FP\x00"
DEFAULT_TEMPLATE_SIZE = 512


def synthetic_template(finger: str, size: int = DEFAULT_TEMPLATE_SIZE) -> bytes:
    """The template of the simulated finger ``finger``: ``size`` deterministic bytes."""
    if size < len(MARKER):
        raise ValueError(f"template size {size} is smaller than the marker")
    out = bytearray(MARKER)
    counter = 0
    seed = finger.encode("utf-8")
    while len(out) < size:
        out += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return bytes(out[:size])


def match_score(template: bytes) -> int:
    """The score the simulated module reports when ``template`` matches itself (50..249)."""
    return 50 + hashlib.sha256(template).digest()[0] % 200


def preset_finger(index: int) -> str:
    """The name of the ``index``-th finger preloaded by ``--templates N``."""
    return f"finger-{index}"
