"""The visit's session: the one object that holds a citizen's data, and its wipe.

Everything the kiosk learns of a person during a visit lives here and nowhere else: never in a
log line, a file, a Qt widget's cache beyond the current screen. ``wipe`` overwrites what Python
lets us overwrite (the photo bytearray, the typed digits) and drops every reference; the flow
calls it on every exit path (done, cancelled, card removed, timed out, app stopping). A crash
leaves nothing because nothing was ever written down.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from govedge.privacy import mask_id_number, mask_name
from kiosk.hall.models import CardData, Errand, Proof


@dataclass(slots=True)
class Session:
    """One citizen's visit, from card read to wipe."""

    visit_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    card: CardData | None = None
    verified_by: str = ""  # "face" or "fingerprint", once verified
    face_failures: int = 0
    errand: Errand | None = None
    request_id: str = ""  # the idempotency key of the current proof request
    proof: Proof | None = None
    typed: bytearray = field(default_factory=bytearray)  # digits on the keypad
    errands_done: int = 0

    @property
    def verified(self) -> bool:
        """True once the face or a fingerprint matched the card; wiped with the rest."""
        return bool(self.verified_by)

    def masked_name(self) -> str:
        """The card's name masked for the screen (``张**``); empty with no card."""
        return mask_name(self.card.name) if self.card else ""

    def masked_id(self) -> str:
        """The card's ID number masked for the screen and receipts; empty with no card."""
        return mask_id_number(self.card.id_number) if self.card else ""

    def new_request(self) -> str:
        """A fresh idempotency key for one proof request (reused by every retry of it)."""
        self.request_id = uuid.uuid4().hex
        self.proof = None
        return self.request_id

    def wipe(self) -> None:
        """Overwrite and drop all citizen data. Safe to call twice."""
        if self.card is not None:
            self.card.photo[:] = b"\0" * len(self.card.photo)
            self.card.photo = bytearray()
            self.card.name = ""
            self.card.id_number = ""
            self.card.address = ""
            self.card = None
        self.typed[:] = b"\0" * len(self.typed)
        self.typed = bytearray()
        self.verified_by = ""
        self.face_failures = 0
        self.errand = None
        self.request_id = ""
        self.proof = None
        self.errands_done = 0
        self.visit_id = ""

    @property
    def empty(self) -> bool:
        """True once wiped: no card, no typed digits, no proof."""
        return self.card is None and not self.typed and self.proof is None
