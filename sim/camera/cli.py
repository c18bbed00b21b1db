"""``govedge sim camera``: render a scripted camera sequence to a folder (or a video file)
and print the camera URL that plays it."""

from __future__ import annotations

import argparse
from pathlib import Path

from govedge.errors import ConfigError


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="folder (or .avi file) to write")
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
    from sim.camera.people import card_photo
    from sim.camera.script import ScriptError, render, write_folder, write_video

    if args.fps <= 0:
        raise ConfigError("--fps must be positive")
    try:
        frames = render(args.script, args.person, args.seed)
    except ScriptError as exc:
        raise ConfigError(str(exc)) from None
    out: Path = args.out
    if out.suffix.lower() == ".avi":
        url = write_video(frames, out, fps=args.fps)
    else:
        url = write_folder(frames, out, fps=args.fps)
    if args.card_photo:
        args.card_photo.write_bytes(card_photo(args.person))
    print(url)
    return 0
