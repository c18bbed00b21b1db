"""A network camera on loopback: frames served as an MJPEG stream over HTTP
(``multipart/x-mixed-replace``), the way cheap IP cameras and phone camera apps do.

The capture code opens ``http://127.0.0.1:PORT/stream.mjpg`` with OpenCV's FFmpeg backend,
unchanged. ``stall()`` keeps the connection open but stops sending frames (the camera's
"no frames" fault); ``resume()`` sends again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from drivers.camera.images import encode_jpeg

BOUNDARY = "govedgeframe"


class MjpegCamera:
    """Serve ``frames`` in a loop at ``fps`` to every client of /stream.mjpg, or, with
    ``source``, whatever image ``source()`` returns at each frame time (a live scene)."""

    def __init__(
        self,
        frames: Sequence[np.ndarray] = (),
        fps: float = 15.0,
        quality: int = 85,
        *,
        source: Callable[[], np.ndarray] | None = None,
    ) -> None:
        if not frames and source is None:
            raise ValueError("an MJPEG camera needs at least one frame or a source")
        self._jpegs = [encode_jpeg(f, quality) for f in frames]
        self._source = source
        self._quality = quality
        self.fps = fps
        self._sending = threading.Event()
        self._sending.set()
        self._closing = threading.Event()
        self.frames_sent = 0
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/stream.mjpg":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                camera._stream(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The MJPEG stream's address on loopback; the port is a free one picked at construction."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/stream.mjpg"

    def start(self) -> MjpegCamera:
        """Serve in a background thread; returns self so it can be chained after the constructor."""
        self._thread.start()
        return self

    def stall(self) -> None:
        """Hold every stream after its current frame: a camera that freezes with the link open."""
        self._sending.clear()

    def resume(self) -> None:
        """Let stalled streams go on sending frames."""
        self._sending.set()

    def close(self) -> None:
        """Stop the server and its streams; waits up to 5 s for the serving thread."""
        self._closing.set()
        self._sending.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> MjpegCamera:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stream(self, handler: BaseHTTPRequestHandler) -> None:
        period = 1.0 / self.fps
        i = 0
        due = time.monotonic()
        try:
            while not self._closing.is_set():
                self._sending.wait()
                if self._closing.is_set():
                    return
                if self._source is not None:
                    jpeg = encode_jpeg(self._source(), self._quality)
                else:
                    jpeg = self._jpegs[i % len(self._jpegs)]
                handler.wfile.write(
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(jpeg)}\r\n\r\n".encode("ascii")
                    + jpeg
                    + b"\r\n"
                )
                handler.wfile.flush()
                self.frames_sent += 1
                i += 1
                due = max(due + period, time.monotonic() - period)
                time.sleep(max(0.0, due - time.monotonic()))
        except (BrokenPipeError, ConnectionResetError):
            return
