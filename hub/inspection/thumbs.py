"""Small JPEG previews of evidence photos for the operator console, made once and kept beside the
photos (``thumbs/<sha256>.jpg``). The photo itself is never changed; a photo Pillow cannot read
(or one too large to decode safely) has no preview, and the console says so."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

from hub.errors import NotFoundError

THUMB_PX = 320
MAX_PIXELS = 50_000_000
"""Larger images are not decoded (a photo is a few megapixels; this bounds a hostile one)."""


class NoPreview(NotFoundError):
    """The photo is held but no preview can be made of it."""


def thumbnail(photo_dir: Path, sha: str) -> bytes:
    """The preview of photo ``sha`` (a checked hex hash), made on first use."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    thumbs = photo_dir / "thumbs"
    cached = thumbs / f"{sha}.jpg"
    try:
        return cached.read_bytes()
    except FileNotFoundError:
        pass
    source = photo_dir / sha
    if not source.exists():
        raise NotFoundError(f"no photo {sha}")
    try:
        with Image.open(source) as image:
            if image.width * image.height > MAX_PIXELS:
                raise NoPreview(f"photo {sha} is too large to preview")
            image.draft("RGB", (THUMB_PX * 2, THUMB_PX * 2))  # JPEG: decode at a reduced scale
            small = ImageOps.exif_transpose(image).convert("RGB")
            small.thumbnail((THUMB_PX, THUMB_PX))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError):
        raise NoPreview(f"photo {sha} is not an image the hub can preview") from None
    out = io.BytesIO()
    small.save(out, "JPEG", quality=80)
    data = out.getvalue()
    thumbs.mkdir(exist_ok=True)
    tmp = thumbs / f".{sha}.{os.getpid()}.{threading.get_ident()}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, cached)  # a cache: no fsync, a lost one is made again
    return data
