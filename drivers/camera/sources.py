"""Where frames come from: a camera URL parsed into a source that yields BGR images.

URL forms:

- ``0``, ``/dev/video0``, ``v4l2:///dev/video0``, ``v4l2://0``: a V4L2 device (OpenCV CAP_V4L2);
- ``rtsp://...``, ``http://...``, ``https://...``: a network stream (OpenCV's FFmpeg backend);
- ``/path/clip.avi`` or ``file:///path/clip.avi``: a video file;
- ``/path/folder`` or ``file:///path/folder``: a folder of images played in name order (the
  simulator's output).

Files and folders take query options: ``fps`` (media frame rate, default 10 for folders, the
file's own rate for videos), ``loop=1`` (start again at the end) and ``pace=realtime|each``
(``realtime``, the default, plays at ``fps`` and lets a slow reader miss frames like a live
camera; ``each`` hands every frame to the reader, for replays and tests). Their frame times are
media times (index / fps), so timeouts measured on them are reproducible.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import cv2
import numpy as np

from drivers.camera.errors import CameraNotFound
from govedge.errors import ConfigError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".webp")
_QUERY_KEYS = {"fps", "loop", "pace"}
#: Open and read timeout for network streams (FFmpeg backend).
STREAM_TIMEOUT_MS = 5000


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A parsed camera URL."""

    kind: str  # "v4l2" | "stream" | "file" | "folder"
    target: str  # device path, URL or filesystem path
    index: int | None = None
    fps: float | None = None
    loop: bool = False
    pace: str = "realtime"
    options: dict[str, str] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        """True for sources that deliver in real time (camera device, network stream)."""
        return self.kind in ("v4l2", "stream")

    @property
    def lossless(self) -> bool:
        """True when no frame may be dropped: a file read at its own pace, frame by frame."""
        return not self.live and self.pace == "each"


def parse_camera_url(url: str) -> SourceSpec:
    """Parse a camera URL (see the module docstring); raise ConfigError if malformed."""
    text = url.strip()
    if not text:
        raise ConfigError("camera URL is empty")
    if text.isdigit():
        return SourceSpec("v4l2", f"/dev/video{text}", index=int(text))
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in ("rtsp", "rtsps", "rtmp", "http", "https"):
        return SourceSpec("stream", text)
    if scheme == "v4l2":
        dev = unquote(parts.netloc + parts.path)
        return _v4l2(dev)
    if scheme == "file":
        path, query = unquote(parts.path), parts.query
    elif scheme == "" or len(scheme) == 1:  # bare path (or a Windows drive letter)
        path, _, query = text.partition("?")
    else:
        raise ConfigError(f"camera URL {url!r}: unknown scheme {scheme!r}")
    if re.fullmatch(r"/dev/video\d+", path):
        return _v4l2(path)
    opts = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    unknown = set(opts) - _QUERY_KEYS
    if unknown:
        raise ConfigError(f"camera URL {url!r}: unknown option {sorted(unknown)[0]!r}")
    fps = _float_opt(url, opts, "fps")
    pace = opts.get("pace", "realtime")
    if pace not in ("realtime", "each"):
        raise ConfigError(f"camera URL {url!r}: pace must be 'realtime' or 'each'")
    loop = opts.get("loop", "0") in ("1", "true", "yes")
    kind = "folder" if os.path.isdir(path) else "file"
    return SourceSpec(kind, path, fps=fps, loop=loop, pace=pace, options=opts)


def _v4l2(dev: str) -> SourceSpec:
    if dev.isdigit():
        return SourceSpec("v4l2", f"/dev/video{dev}", index=int(dev))
    m = re.fullmatch(r"/dev/video(\d+)", dev)
    if not m:
        raise ConfigError(f"v4l2 device {dev!r}: expected /dev/videoN or an index")
    return SourceSpec("v4l2", dev, index=int(m.group(1)))


def _float_opt(url: str, opts: dict[str, str], key: str) -> float | None:
    if key not in opts:
        return None
    try:
        value = float(opts[key])
    except ValueError:
        raise ConfigError(f"camera URL {url!r}: {key} must be a number") from None
    if value <= 0:
        raise ConfigError(f"camera URL {url!r}: {key} must be positive")
    return value


class FrameSource(Protocol):
    """A blocking producer of BGR images, driven by the capture thread."""

    fps: float

    def open(self) -> None:
        """Open the device or file; CameraNotFound if there is none."""

    def read(self) -> np.ndarray | None:
        """The next image; None if no image now (live) or at the end (finite sources)."""

    @property
    def ended(self) -> bool:
        """True once a finite source has delivered its last image (never for a live one)."""

    def close(self) -> None:
        """Release the device or file; safe to call twice."""


class OpenCVSource:
    """A V4L2 device, a network stream or a video file through cv2.VideoCapture."""

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.fps = spec.fps or 0.0
        self._cap: cv2.VideoCapture | None = None
        self._ended = False

    def open(self) -> None:
        """Open the capture with bounded waits; CameraNotFound if the device or file is missing."""
        spec = self.spec
        if spec.kind == "file" and not os.path.isfile(spec.target):
            raise CameraNotFound(f"no video file or image folder at {spec.target}")
        if spec.kind == "v4l2":
            if not os.path.exists(spec.target):
                raise CameraNotFound(f"no camera at {spec.target}")
            cap = cv2.VideoCapture(spec.index if spec.index is not None else 0, cv2.CAP_V4L2)
        elif spec.kind == "stream":  # bounded waits: a dead network camera must not hang us
            params = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                STREAM_TIMEOUT_MS,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                STREAM_TIMEOUT_MS,
            ]
            cap = cv2.VideoCapture(spec.target, cv2.CAP_FFMPEG, params)
        else:
            cap = cv2.VideoCapture(spec.target)
        if not cap.isOpened():
            cap.release()
            raise CameraNotFound(f"cannot open camera source {_redact(spec.target)}")
        self._cap = cap
        if not self.fps:
            rate = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            self.fps = rate if 0 < rate < 1000 else 25.0

    def read(self) -> np.ndarray | None:
        """The next image; None when a live source has none now or a file has ended."""
        if self._cap is None or self._ended:
            return None
        ok, image = self._cap.read()
        if ok and image is not None:
            return image
        if self.spec.kind == "file":
            if self.spec.loop and self._cap.get(cv2.CAP_PROP_POS_FRAMES) > 0:
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, image = self._cap.read()
                if ok and image is not None:
                    return image
            self._ended = True
        return None

    @property
    def ended(self) -> bool:
        """True once a file source has delivered its last image (and does not loop)."""
        return self._ended

    def close(self) -> None:
        """Release the capture; safe to call twice."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class FolderSource:
    """Images of a folder in name order: the simulator's camera."""

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.fps = spec.fps or 10.0
        self._files: list[Path] = []
        self._next = 0
        self._ended = False

    def open(self) -> None:
        """List the folder's images in name order; CameraNotFound if there are none."""
        folder = Path(self.spec.target)
        if not folder.is_dir():
            raise CameraNotFound(f"no image folder at {folder}")
        self._files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            raise CameraNotFound(f"no images in folder {folder}")

    def read(self) -> np.ndarray | None:
        """The next image of the folder, skipping unreadable files; None at the end unless
        looping."""
        while not self._ended:
            if self._next >= len(self._files):
                if not self.spec.loop:
                    self._ended = True
                    return None
                self._next = 0
            path = self._files[self._next]
            self._next += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                return image
        return None

    @property
    def ended(self) -> bool:
        """True once the last image was delivered and ``loop`` is off."""
        return self._ended

    def close(self) -> None:
        """Forget the file list; the folder is not held open."""
        self._files = []


def open_source(spec: SourceSpec) -> FrameSource:
    """Build (not open) the source for a parsed URL."""
    if spec.kind == "folder":
        return FolderSource(spec)
    return OpenCVSource(spec)


def _redact(target: str) -> str:
    """Hide credentials in a stream URL (rtsp://user:pass@host)."""
    return re.sub(r"//[^/@]*@", "//***@", target)


def monotonic() -> float:
    """The monotonic clock, in seconds."""
    return time.monotonic()
