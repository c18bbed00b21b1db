"""``govedge sim camera``: render a scripted camera sequence to a folder or a video file and
print the camera URL that plays it, or serve it as an MJPEG stream over HTTP."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from govedge.errors import ConfigError


def register(parser: argparse.ArgumentParser) -> None:
    """Add the camera simulator's options to ``parser``."""
    parser.add_argument("--out", type=Path, help="folder (or .avi file) to write")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="serve the sequence in a loop as an MJPEG stream on 127.0.0.1 until interrupted",
    )
    parser.add_argument(
        "--script",
        default="face:5,blink:2,face:3,turn_left:4,face:3,mouth_open:3,face:3",
        help="steps name:frames, comma-separated (face, blink, turn_left, turn_right, "
        "mouth_open, no_face, photo, frozen)",
    )
    parser.add_argument("--person", default="astronaut", choices=["astronaut", "grace_hopper"])
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--card-photo", type=Path, help="also write the person's ID-card photo (JPEG) here"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Render the scripted camera frames to a folder or a video."""
    from sim.camera.people import card_photo
    from sim.camera.script import ScriptError, render, write_folder, write_video

    if args.fps <= 0:
        raise ConfigError("--fps must be positive")
    try:
        frames = render(args.script, args.person, args.seed)
    except ScriptError as exc:
        raise ConfigError(str(exc)) from None
    if args.card_photo:
        args.card_photo.write_bytes(card_photo(args.person))
    if args.serve:
        return _serve(frames, args.fps)
    if args.out is None:
        raise ConfigError("give --out FOLDER (or FILE.avi), or --serve")
    out: Path = args.out
    if out.suffix.lower() == ".avi":
        url = write_video(frames, out, fps=args.fps)
    else:
        url = write_folder(frames, out, fps=args.fps)
    print(url)
    return 0


def _serve(frames: list[Any], fps: float) -> int:
    import threading

    from sim.camera.mjpeg import MjpegCamera

    with MjpegCamera(frames, fps=fps) as camera:
        print(camera.url, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0
