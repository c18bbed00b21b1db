"""The real faces available offline, and the ID-card photo made from one of them.

scikit-image's astronaut (Eileen Collins) and matplotlib's Grace Hopper are two different
real people. The card photo follows the ID-card simulator's layout: the astronaut's face region
(rows 0:220, cols 140:330) resized to 102x126 and JPEG-compressed under 1 KB.
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

from drivers.camera.images import decode_image, fit

FRAME_W, FRAME_H = 640, 480
CARD_PHOTO_W, CARD_PHOTO_H = 102, 126
CARD_PHOTO_MAX_BYTES = 1024


@cache
def _astronaut() -> np.ndarray:
    from skimage import data

    # skimage's data loaders are unannotated in its own stubs.
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)  # type: ignore[no-untyped-call]


@cache
def _grace_hopper() -> np.ndarray:
    from matplotlib import cbook

    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    with open(str(path), "rb") as f:
        return decode_image(f.read())


PEOPLE = ("astronaut", "grace_hopper")


def person(name: str) -> np.ndarray:
    """The full photograph of a person (BGR, a fresh copy)."""
    if name == "astronaut":
        return _astronaut().copy()
    if name == "grace_hopper":
        return _grace_hopper().copy()
    raise ValueError(f"unknown person {name!r}; known: {', '.join(PEOPLE)}")


def frame_of(name: str) -> np.ndarray:
    """The person fitted into a 640x480 camera frame."""
    return fit(person(name), FRAME_W, FRAME_H)


def card_photo(
    name: str = "astronaut", *, gray: bool = False, max_bytes: int = CARD_PHOTO_MAX_BYTES
) -> bytes:
    """A 102x126 JPEG under ``max_bytes`` (1 KB), like the photo decoded from a
    second-generation ID card."""
    img = person(name)
    face = img[0:220, 140:330] if name == "astronaut" else img[60:330, 130:400]
    small = cv2.resize(face, (CARD_PHOTO_W, CARD_PHOTO_H), interpolation=cv2.INTER_AREA)
    if gray:
        small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    for quality in (40, 30, 20, 15, 10, 8, 5):
        ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and len(buf) < max_bytes:
            return buf.tobytes()
    if not gray:
        return card_photo(name, gray=True, max_bytes=max_bytes)
    raise RuntimeError("cannot compress the card photo under 1 KB")
