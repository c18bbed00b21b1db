"""The camera as the edge agent drives it: polled for health and frame counters, and asked to
verify the person in front against a reference (ID-card) photo.

Options: drivers.camera.spec.CameraOptions (verification, quality limits, liveness, and the
kiosk's face session of drivers.camera.session), each with its default, range and unit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Generator, Mapping
from typing import Any

from drivers.base import HealthReport
from drivers.camera.capture import Camera
from drivers.camera.errors import CameraEnded, NoQrError
from drivers.camera.liveness import Challenge, ChallengeResponseLiveness, run_liveness
from drivers.camera.quality import QualityLimits
from drivers.camera.session import EventSink, FaceSession, SessionSettings
from drivers.camera.spec import CameraOptions
from drivers.camera.verification import FaceVerifier
from drivers.errors import BusyError, DriverError
from drivers.options import options_of, same_named
from govedge.health import HealthState


class CameraDriver:
    """PolledDriver and FaceCapability over one camera URL."""

    kind = "camera"

    def __init__(self, url: str, options: CameraOptions | Mapping[str, Any]) -> None:
        self.url = url
        self.options = options_of(CameraOptions, options)
        self.camera = Camera(
            url,
            no_frames_after_s=self.options.no_frames_after_s,
            frozen_after_s=self.options.frozen_after_s,
        )
        self._limits = QualityLimits(**same_named(self.options, QualityLimits))
        self._verifier: FaceVerifier | None = None
        self._busy = threading.Lock()
        self._last_poll = (time.monotonic(), 0)
        self.verifications = 0

    @property
    def verifier(self) -> FaceVerifier:
        """The face verifier, built on first use because it loads the dlib models (seconds, MBs)."""
        if self._verifier is None:  # loads the dlib models on first use
            self._verifier = FaceVerifier(
                self.options.threshold, self._limits, upsample=self.options.upsample
            )
        return self._verifier

    def open(self) -> None:
        """Start capturing; CameraNotFound if the URL leads to no camera."""
        self.camera.open()

    def close(self) -> None:
        """Stop the capture thread and release the source."""
        self.camera.close()

    def poll(self) -> Mapping[str, float]:
        """Frame counters and the frame rate since the last poll; raises on a sick camera."""
        self.camera.check()
        report = self.camera.health()
        now, frames = time.monotonic(), report.counters.get("frames", 0)
        then, before = self._last_poll
        self._last_poll = (now, frames)
        fps = (frames - before) / (now - then) if now > then else 0.0
        return {
            "fps": round(fps, 2),
            "frames": float(frames),
            "dropped": float(report.counters.get("dropped", 0)),
            "verifications": float(self.verifications),
        }

    def health(self) -> HealthReport:
        """The camera's health, reported busy while a verification or session holds it."""
        report = self.camera.health()
        if self._busy.locked() and report.state is HealthState.ONLINE:
            report.state = HealthState.BUSY
        return report

    def _frames(self) -> Generator[Any, None, None]:
        timeout = self.options.read_timeout_s
        while True:
            try:
                yield self.camera.read(timeout).image
            except CameraEnded:
                return

    def verify_face(self, reference_image: bytes) -> dict[str, Any]:
        """Capture up to ``max_frames`` frames and verify the first usable face against the
        reference photo. Frames, photo and encodings are zeroed before this returns."""
        if not self._busy.acquire(blocking=False):
            raise BusyError("a face verification is already running")
        try:
            frames = self._frames()
            try:
                result = self.verifier.verify_frames(
                    reference_image, frames, max_frames=self.options.max_frames
                )
            finally:
                frames.close()
            self.verifications += 1
            return result.to_dict()
        finally:
            self._busy.release()

    def session_settings(self) -> SessionSettings:
        """The face session's bounds, taken from the driver's options."""
        o = self.options
        return SessionSettings(
            challenges=o.session_challenges,
            look_timeout_s=o.session_look_timeout_s,
            challenge_timeout_s=o.session_challenge_timeout_s,
            baseline_frames=o.session_baseline_frames,
            upsample=o.session_upsample,
            continuity_threshold=o.continuity_threshold,
            read_timeout_s=min(o.read_timeout_s, 1.0),
        )

    def face_session(
        self,
        reference_image: bytes,
        emit: EventSink,
        challenges: list[str] | None = None,
    ) -> dict[str, Any]:
        """Run one face session (prompts through ``emit``) against the card photo; return the
        verdict. Liveness and the match come from the same tracked face in the same frames."""
        if not self._busy.acquire(blocking=False):
            raise BusyError("the camera is busy with another check")
        try:
            self._drain()
            fixed = [Challenge(c) for c in challenges] if challenges else None
            session = FaceSession(self.verifier, self.session_settings(), challenges=fixed)
            result = session.run(self.camera, reference_image, emit)
            self.verifications += 1
            return result.event()
        finally:
            self._busy.release()

    def scan_qr(self, timeout_s: float) -> str:
        """Decode the first QR code held up to the camera; NoQrError after ``timeout_s``."""
        import cv2

        if not self._busy.acquire(blocking=False):
            raise BusyError("the camera is busy with another check")
        try:
            self._drain()
            detector = cv2.QRCodeDetector()
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                frame = self.camera.read(min(1.0, self.options.read_timeout_s))
                try:
                    text, _, _ = detector.detectAndDecode(frame.image)
                finally:
                    frame.wipe()
                if text:
                    return str(text)
            raise NoQrError(f"no QR code seen within {timeout_s:g} s")
        finally:
            self._busy.release()

    def _drain(self) -> None:
        """Drop a frame taken before the session began (the newest-wins queue holds one)."""
        try:
            self.camera.read(0.001).wipe()
        except DriverError:
            pass

    def check_liveness(self, challenges: list[str] | None = None) -> dict[str, Any]:
        """Run a challenge-response liveness check on the live camera."""
        if not self._busy.acquire(blocking=False):
            raise BusyError("the camera is busy with another check")
        try:
            fixed = [Challenge(c) for c in challenges] if challenges else None
            check = ChallengeResponseLiveness(fixed, timeout_s=self.options.liveness_timeout_s)
            return run_liveness(camera=self.camera, check=check).to_dict()
        finally:
            self._busy.release()


def create(url: str, options: CameraOptions | Mapping[str, Any]) -> CameraDriver:
    """Build (not open) the camera driver; ConfigError for unknown or bad options."""
    return CameraDriver(url, options)
