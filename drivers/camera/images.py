"""Image helpers: decode bytes, BGR to RGB, fit to a size, and the scratch list that zeroes
every array a verification touched.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from drivers.camera.errors import ImageError


class Scratch:
    """Arrays holding citizen data during one operation; ``wipe`` zeroes them all in place."""

    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []

    def track(self, array: np.ndarray) -> np.ndarray:
        """Register ``array`` for ``wipe``; returned so the call can wrap an expression."""
        self.arrays.append(array)
        return array

    def wipe(self) -> None:
        """Zero every registered array in place; read-only arrays cannot be and are skipped."""
        for array in self.arrays:
            if array.flags.writeable:
                array.fill(0)

    def all_zero(self) -> bool:
        """True if every registered array is zero: the proof that a wipe left no citizen data."""
        return all(not np.any(a) for a in self.arrays)


def decode_image(data: bytes) -> np.ndarray:
    """JPEG/PNG/BMP bytes to a BGR uint8 array (gray images become 3-channel)."""
    if not data:
        raise ImageError("empty image")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageError(f"cannot decode image ({len(data)} bytes)")
    return image


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file to BGR; ImageError with the path if it is missing or unreadable."""
    p = Path(path)
    if not p.is_file():
        raise ImageError(f"no image file at {p}")
    try:
        return decode_image(p.read_bytes())
    except ImageError as exc:
        raise ImageError(f"{p}: {exc}") from None


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """``image`` as JPEG bytes at ``quality``."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageError("cannot encode JPEG")
    return buf.tobytes()


def to_rgb(bgr: np.ndarray) -> np.ndarray:
    """BGR to a new contiguous RGB array (dlib rejects the non-contiguous ``[:, :, ::-1]``)."""
    if bgr.ndim == 2:
        return cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to fit inside width x height, keeping the aspect ratio, on a black canvas."""
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(image, (nw, nh), interpolation=interp)
    out = np.zeros((height, width, 3), np.uint8)
    y, x = (height - nh) // 2, (width - nw) // 2
    out[y : y + nh, x : x + nw] = resized
    return out
