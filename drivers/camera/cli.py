"""``govedge device camera``: technicians' tools (snapshot, health)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from govedge.errors import ConfigError


def register(parser: argparse.ArgumentParser) -> None:
    """Add the camera commands to ``parser``."""
    sub = parser.add_subparsers(dest="camera_command", metavar="ACTION", required=True)
    snap = sub.add_parser("snapshot", help="save one frame from a camera as a JPEG")
    snap.add_argument("url", help="camera URL: index, /dev/videoN, file, folder, rtsp://, http://")
    snap.add_argument("out", type=Path, help="output JPEG file")
    snap.add_argument("--skip", type=int, default=0, help="frames to skip first (warm-up)")
    snap.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for a frame")
    snap.set_defaults(func=run_snapshot)

    health = sub.add_parser("health", help="read frames for a while and report the health")
    health.add_argument("url")
    health.add_argument("--seconds", type=float, default=3.0)
    health.set_defaults(func=run_health)


def run_snapshot(args: argparse.Namespace) -> int:
    """Save one frame from a camera as a JPEG."""
    from drivers.camera.capture import Camera
    from drivers.camera.images import encode_jpeg

    if args.timeout <= 0 or args.skip < 0:
        raise ConfigError("--timeout must be positive and --skip not negative")
    with Camera(args.url) as camera:
        for _ in range(args.skip):
            camera.read(args.timeout).wipe()
        frame = camera.read(args.timeout)
    try:
        data = encode_jpeg(frame.image, 92)
    finally:
        frame.wipe()
    args.out.write_bytes(data)
    h, w = frame.image.shape[:2]
    print(f"saved {w}x{h} frame to {args.out}")
    return 0


def run_health(args: argparse.Namespace) -> int:
    """Read frames for a while and report the camera's health."""
    from drivers.camera.capture import Camera
    from drivers.camera.errors import CameraEnded

    with Camera(args.url) as camera:
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            try:
                camera.read(min(2.0, args.seconds)).wipe()
            except CameraEnded:
                break
        report = camera.health()
    counters = " ".join(f"{k}={v}" for k, v in sorted(report.counters.items()))
    print(f"{report.state.value}{': ' + report.detail if report.detail else ''} ({counters})")
    return 0 if report.state.value == "online" else 4
