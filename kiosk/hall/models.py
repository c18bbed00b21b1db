"""Plain data the flow exchanges with its device client and service backend.

Citizen data (name, ID number, address, photo) live only in ``CardData`` inside the visit's
``Session``; the other types hold nothing that identifies a person except the masked subject of a
proof as the hub returns it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DocumentKind = Literal["resident_id", "social_security"]
ErrandKind = Literal["proof", "progress", "guide"]


@dataclass(slots=True)
class CardData:
    """What the identity document told us. ``photo`` is a bytearray so a wipe can zero it."""

    document: DocumentKind
    name: str
    id_number: str
    address: str = ""
    photo: bytearray = field(default_factory=bytearray, repr=False)

    def __repr__(self) -> str:  # never print a citizen by accident
        return f"CardData(document={self.document!r}, <citizen data hidden>)"


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """One Server-Sent Event from the agent (``card_inserted``, ``card_removed``, ...)."""

    event: str
    reader: str = ""
    document: str = ""
    state: str = ""


@dataclass(frozen=True, slots=True)
class FaceStep:
    """One line of the agent's face-session stream."""

    step: Literal["look", "challenge", "progress", "verdict"]
    text_key: str = ""
    action: str = ""
    value: float = 0.0
    matched: bool = False
    live: bool = False
    passed: bool = False
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FingerResult:
    """Whether a finger matched the card's fingerprint, and the match score."""

    matched: bool
    score: int = 0


@dataclass(frozen=True, slots=True)
class Errand:
    """One errand the hall offers (contract C)."""

    id: str
    name: str
    summary: str
    kind: ErrandKind
    materials: tuple[str, ...] = ()
    where: str = ""
    fees: str = ""
    proof_type: str | None = None


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One step of an application's progress."""

    status: str
    label: str
    at: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Application:
    """An application's progress, looked up by its number."""

    number: str
    errand_name: str
    status: str
    timeline: tuple[TimelineEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class Proof:
    """An issued proof: the QR text anyone can verify, and the subject as the hub masked it."""

    proof_id: str
    qr_text: str
    title: str
    issued_at: str
    expires_at: str
    subject_id_masked: str
    subject_name_masked: str


@dataclass(frozen=True, slots=True)
class RatingChoices:
    """The rating levels and tags a citizen may choose from."""

    levels: tuple[tuple[int, str], ...]
    tags: tuple[tuple[str, str], ...]
