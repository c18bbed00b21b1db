"""The simulator's deck: synthetic cards that parse, and a card photo of a real face."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from skimage import data

from drivers.idcard.card import CardType
from drivers.idcard.idnumber import is_valid
from drivers.idcard.layout import parse_base_info
from drivers.idcard.photo import SimPhotoDecoder
from sim.idcard.deck import build_deck, make_id_number
from sim.idcard.make_photo import FACE_COLS, FACE_ROWS
from sim.idcard.photo_data import ASTRONAUT_JPEG


def test_every_card_parses() -> None:
    deck = build_deck()
    assert {"valid", "expired", "bad_check_digit", "hk_mo_tw", "foreigner"} <= set(deck)
    for key, card in deck.items():
        parsed = parse_base_info(card.base_info(with_fingerprint=False))
        assert parsed.card_type is card.card_type, key
        assert len(card.photo) == 1024
        if card.card_type is not CardType.FOREIGN_PERMANENT_RESIDENCE:
            assert parsed.id_number_valid is (key != "bad_check_digit"), key


def test_variants() -> None:
    deck = build_deck()
    assert parse_base_info(deck["expired"].base_info(False)).expired()
    assert not parse_base_info(deck["valid"].base_info(False)).expired()
    assert parse_base_info(deck["fingerprint"].base_info(True)).fingerprint
    assert parse_base_info(deck["valid"].base_info(True)).fingerprint == b""


def test_make_id_number() -> None:
    number = make_id_number("110105", "19491231", "002")
    assert number == "11010519491231002X"
    assert is_valid(number)


def test_photo_is_the_astronaut_face() -> None:
    photo = SimPhotoDecoder().decode(build_deck()["valid"].photo)
    assert photo.data == ASTRONAUT_JPEG
    image = Image.open(io.BytesIO(photo.data))
    assert image.format == "JPEG"
    assert image.size == (102, 126)
    face = data.astronaut()[FACE_ROWS[0] : FACE_ROWS[1], FACE_COLS[0] : FACE_COLS[1]]
    reference = np.asarray(
        Image.fromarray(face).resize((102, 126), Image.Resampling.LANCZOS).convert("L"),
        dtype=float,
    )
    decoded = np.asarray(image.convert("L"), dtype=float)
    correlation = np.corrcoef(reference.ravel(), decoded.ravel())[0, 1]
    assert correlation > 0.95


def test_photo_matches_a_probe_of_the_same_person() -> None:
    # What the kiosk's face check will do: compare a camera probe (here the full astronaut
    # image) with the card photo. dlib's usual threshold for "same person" is 0.6.
    import face_recognition

    card = np.asarray(Image.open(io.BytesIO(ASTRONAUT_JPEG)).convert("RGB"))
    locations = face_recognition.face_locations(card, number_of_times_to_upsample=2)
    assert len(locations) == 1
    card_encoding = face_recognition.face_encodings(card, locations)[0]
    probe = face_recognition.face_encodings(data.astronaut())[0]
    assert face_recognition.face_distance([probe], card_encoding)[0] < 0.6
