"""Synthetic changes to a real face photo that produce the landmark changes a live person
would: closed eyelids (blink), a head turn (yaw), an open mouth, and the degradations a probe
goes through (scale, crop, light, rotation, blur, sensor noise), plus a printed photo held up
to the camera.

Eyelids are painted over the eye landmarks in the skin colour under the eye; a turn is a
horizontal warp that moves the middle of the face (the nose) sideways while the jaw edges stay;
the mouth opens by pulling the lower face down and painting the gap dark.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

Landmarks = Mapping[str, Sequence[tuple[int, int]]]
Box = tuple[int, int, int, int]  # top, right, bottom, left


def close_eyes(image: np.ndarray, landmarks: Landmarks) -> np.ndarray:
    """Paint closed eyelids over both eyes."""
    out = image.copy()
    for name in ("left_eye", "right_eye"):
        eye = np.asarray(landmarks[name], np.int32)
        x0, y0 = eye.min(axis=0)
        x1, y1 = eye.max(axis=0)
        w = max(int(x1 - x0), 4)
        cx, cy = int((x0 + x1) // 2), int((y0 + y1) // 2)
        below = image[y1 + int(w * 0.4) : y1 + int(w * 0.7), x0:x1]
        colour = (
            np.median(below.reshape(-1, 3), axis=0)
            if below.size
            else np.array([150.0, 150.0, 180.0])
        )
        axes = (int(w * 0.75), int(max(y1 - y0, w * 0.35) * 1.2))
        cv2.ellipse(out, (cx, cy), axes, 0, 0, 360, [float(c) for c in colour], -1)
        cv2.line(out, (int(x0 - w * 0.1), cy), (int(x1 + w * 0.1), cy), (30, 30, 40), 2)
    return out


def turn_head(image: np.ndarray, box: Box, amount: float) -> np.ndarray:
    """Move the centre of the face sideways by ``amount`` x 0.75 face widths (positive: to
    the image's right, the person's left on an unmirrored camera)."""
    top, right, bottom, left = box
    h, w = image.shape[:2]
    cx, half = (left + right) / 2.0, (right - left) * 0.75
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    across = np.clip(1.0 - np.abs((xs - cx) / half), 0.0, 1.0)
    down = np.clip(1.0 - np.abs((ys - (top + bottom) / 2.0) / float(bottom - top)), 0.0, 1.0)
    mapx = (xs - amount * half * across * down).astype(np.float32)
    return cv2.remap(image, mapx, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def open_mouth(image: np.ndarray, landmarks: Landmarks, amount: float = 0.5) -> np.ndarray:
    """Open the mouth by ``amount`` x its width."""
    top = np.asarray(landmarks["top_lip"], np.float32)
    bottom = np.asarray(landmarks["bottom_lip"], np.float32)
    h, w = image.shape[:2]
    x0, x1 = float(top[:, 0].min()), float(top[:, 0].max())
    width, cx = x1 - x0, (x0 + x1) / 2.0
    line = (float(top[8:11, 1].mean()) + float(bottom[8:11, 1].mean())) / 2.0
    gap = amount * width
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    across = np.sqrt(np.clip(1.0 - np.abs((xs - cx) / (width * 1.1)), 0.0, 1.0))
    below = ys > line
    fade = np.clip(1.0 - (ys - line) / (width * 1.6), 0.0, 1.0)
    ramp = np.minimum(1.0, (ys - line) / max(gap, 1.0))
    dy = np.where(below, gap * across * ramp * fade, 0.0)
    out = cv2.remap(
        image, xs, (ys - dy).astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    centre = (int(cx), int(line + gap * 0.45))
    cv2.ellipse(out, centre, (int(width * 0.38), int(gap * 0.45)), 0, 0, 360, (25, 20, 35), -1)
    return out


def lighting(image: np.ndarray, gain: float, offset: float = 0.0) -> np.ndarray:
    """``image`` with its brightness scaled by ``gain`` and shifted by ``offset``."""
    return cv2.convertScaleAbs(image, alpha=gain, beta=offset)


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """``image`` rotated by ``degrees`` about its centre."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), degrees, 1.0)
    return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """``image`` blurred with a Gaussian of ``sigma`` pixels."""
    return cv2.GaussianBlur(image, (0, 0), sigma)


def sensor_noise(image: np.ndarray, rng: np.random.Generator, sigma: float = 2.0) -> np.ndarray:
    """Gaussian noise like a real sensor's (so consecutive frames are never identical)."""
    noisy = image.astype(np.float32) + rng.normal(0.0, sigma, image.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def printed_photo(image: np.ndarray) -> np.ndarray:
    """The face printed on paper and held up: lower contrast, warmer paper white, a border,
    on a dark background."""
    h, w = image.shape[:2]
    paper = cv2.convertScaleAbs(image, alpha=0.8, beta=30)
    paper = cv2.addWeighted(paper, 0.92, np.full_like(paper, (200, 225, 235)), 0.08, 0)
    out = np.full_like(image, 40)
    inner = cv2.resize(paper, (int(w * 0.9), int(h * 0.9)), interpolation=cv2.INTER_AREA)
    y, x = (h - inner.shape[0]) // 2, (w - inner.shape[1]) // 2
    cv2.rectangle(
        out, (x - 8, y - 8), (x + inner.shape[1] + 8, y + inner.shape[0] + 8), (235, 240, 240), -1
    )
    out[y : y + inner.shape[0], x : x + inner.shape[1]] = inner
    return out


def empty_scene(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A kiosk with nobody in front: a grey wall with a gradient."""
    ramp = np.linspace(90, 140, width, dtype=np.float32)[None, :, None]
    wall = np.repeat(np.repeat(ramp, height, axis=0), 3, axis=2)
    return sensor_noise(wall.astype(np.uint8), rng)
