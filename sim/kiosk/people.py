"""The synthetic people of the kiosk rig: a card photo, face frames and fingerprints that
belong together.

Each person is one of the two real faces of ``sim.camera.people``. Their ID card (resident card,
synthetic name and number) carries that face as its photo and, as its fingerprint data (SAM
30 10), the features of two of their fingers; the fingerprint simulator's template for a finger
of the same name is byte for byte the feature on the card, so a placed finger matches the card
of its owner and no other.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from drivers.idcard.card import CardType
from drivers.idcard.photo import PHOTO_SIZE, SIM_PHOTO_MAGIC, encode_sim_photo
from sim.camera.people import card_photo
from sim.fingerprint.templates import DEFAULT_TEMPLATE_SIZE, synthetic_template
from sim.idcard.deck import SimCard, make_id_number

FINGERS = ("right-index", "left-index")
"""The two fingers whose features a card carries, in the card's order."""

ALIASES = {"hopper": "grace_hopper", "grace": "grace_hopper", "collins": "astronaut"}


class UnknownPersonError(ValueError):
    """A person the rig does not know."""


@dataclass(frozen=True, slots=True)
class Person:
    """One synthetic citizen (every name, number and address is invented)."""

    key: str  # the face in sim.camera.people
    name: str
    sex_code: str
    birth_date: str
    region: str
    sequence: str
    address: str
    issuer: str

    @property
    def id_number(self) -> str:
        """The person's invented ID number (region, birth date, sequence and check digit)."""
        return make_id_number(self.region, self.birth_date, self.sequence)

    def finger(self, which: str = FINGERS[0]) -> str:
        """The simulated finger's name, as the fingerprint simulator knows it."""
        if which not in FINGERS:
            raise UnknownPersonError(f"unknown finger {which!r}; known: {', '.join(FINGERS)}")
        return f"{self.key}-{which}"

    def fingerprint_feature(self) -> bytes:
        """What the card's chip holds (30 10): one 512-byte feature per finger."""
        return b"".join(synthetic_template(self.finger(f), DEFAULT_TEMPLATE_SIZE) for f in FINGERS)

    def card(self) -> SimCard:
        """The person's resident ID card for the ID-card simulator's deck."""
        values = {
            "name": self.name,
            "sex_code": self.sex_code,
            "nation_code": "01",
            "birth_date": self.birth_date,
            "address": self.address,
            "id_number": self.id_number,
            "issuer": self.issuer,
            "valid_from": "20200101",
            "valid_to": "20400101",
        }
        return SimCard(
            key=self.key,
            card_type=CardType.RESIDENT,
            values=values,
            photo=_photo(self.key),
            fingerprint=self.fingerprint_feature(),
            description=f"resident card of the rig's person {self.key}",
        )


@cache
def _photo(key: str) -> bytes:
    room = PHOTO_SIZE - len(SIM_PHOTO_MAGIC) - 2
    return encode_sim_photo(card_photo(key, max_bytes=room + 1))


PEOPLE: dict[str, Person] = {
    "astronaut": Person(
        key="astronaut",
        name="测试航天",
        sex_code="2",
        birth_date="19560919",
        region="110101",
        sequence="142",
        address="北京市东城区示例大街21号",
        issuer="北京市公安局东城分局",
    ),
    "grace_hopper": Person(
        key="grace_hopper",
        name="测试编程",
        sex_code="2",
        birth_date="19061209",
        region="310104",
        sequence="262",
        address="上海市徐汇区示例路106号",
        issuer="上海市公安局徐汇分局",
    ),
}


def person(key: str) -> Person:
    """The person ``key`` (aliases: hopper, grace, collins); UnknownPersonError otherwise."""
    found = PEOPLE.get(ALIASES.get(key, key))
    if found is None:
        known = ", ".join([*PEOPLE, *ALIASES])
        raise UnknownPersonError(f"unknown person {key!r}; known: {known}")
    return found


def deck() -> dict[str, SimCard]:
    """A deck holding every person's card, by person key."""
    return {p.key: p.card() for p in PEOPLE.values()}
