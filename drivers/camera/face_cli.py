"""``govedge face``: verify a probe against a reference photo, run a liveness check on a
camera, and calibrate the decision threshold from labelled pairs.

Exit codes: 0 match / live, 4 no match / not live, 1 error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from govedge.errors import ConfigError

if TYPE_CHECKING:
    from drivers.camera.verification import FaceVerifier

NO_MATCH = 4


def register(parser: argparse.ArgumentParser) -> None:
    """Add the face commands (verify, liveness, calibrate) to ``parser``."""
    sub = parser.add_subparsers(dest="face_command", metavar="ACTION", required=True)

    verify = sub.add_parser("verify", help="compare a probe image with a reference (ID) photo")
    verify.add_argument("--reference", required=True, type=Path, help="the ID photo")
    verify.add_argument("--probe", required=True, type=Path, help="the camera image")
    verify.add_argument("--threshold", type=float, help="decision threshold (default 0.54)")
    verify.add_argument("--no-quality", action="store_true", help="compare even poor faces")
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    verify.set_defaults(func=run_verify)

    live = sub.add_parser("liveness", help="challenge-response liveness check on a camera")
    live.add_argument("--camera", required=True, help="camera URL (index, file, folder, stream)")
    live.add_argument(
        "--challenges",
        help="fixed challenges, comma-separated (default: random): "
        "blink, turn_left, turn_right, mouth_open",
    )
    live.add_argument("--count", type=int, default=2, help="number of random challenges")
    live.add_argument("--timeout", type=float, default=8.0, help="seconds to respond")
    live.add_argument("--seed", type=int, help="seed the random challenge choice")
    live.add_argument("--json", action="store_true")
    live.set_defaults(func=run_liveness)

    cal = sub.add_parser("calibrate", help="false-accept/false-reject rates per threshold")
    cal.add_argument("pairs", type=Path, help="CSV with columns reference,probe,same")
    cal.add_argument("--from", dest="start", type=float, default=0.30)
    cal.add_argument("--to", dest="stop", type=float, default=0.80)
    cal.add_argument("--step", type=float, default=0.02)
    cal.add_argument("--json", action="store_true")
    cal.set_defaults(func=run_calibrate)


def _verifier(threshold: float | None, enforce_quality: bool = True) -> FaceVerifier:
    from drivers.camera.verification import DEFAULT_THRESHOLD, FaceVerifier

    t = DEFAULT_THRESHOLD if threshold is None else threshold
    if not 0.0 < t < 2.0:
        raise ConfigError("--threshold must be between 0 and 2")
    return FaceVerifier(t, enforce_quality=enforce_quality)


def run_verify(args: argparse.Namespace) -> int:
    """Compare a probe image with a reference photo and print the decision."""
    from drivers.camera.images import read_image

    verifier = _verifier(args.threshold, not args.no_quality)
    reference = args.reference.read_bytes() if args.reference.is_file() else b""
    if not reference:
        from drivers.camera.errors import ImageError

        raise ImageError(f"no reference image at {args.reference}")
    probe = read_image(args.probe)
    result = verifier.verify(reference, probe)
    if args.json:
        print(json.dumps(result.to_dict(), sort_keys=True))
    else:
        word = "MATCH" if result.match else "NO MATCH"
        dist = "n/a" if result.distance is None else f"{result.distance:.4f}"
        print(f"{word}: distance {dist}, threshold {result.threshold}")
        if result.reasons:
            print("reasons: " + ", ".join(result.reasons))
        steps = ", ".join(f"{k} {v:.0f} ms" for k, v in result.timings_ms.items())
        print(f"timings: {steps}")
    return 0 if result.match else NO_MATCH


def run_liveness(args: argparse.Namespace) -> int:
    """Run a challenge-response liveness check on a camera."""
    import random

    from drivers.camera.capture import Camera
    from drivers.camera.liveness import Challenge, ChallengeResponseLiveness
    from drivers.camera.liveness import run_liveness as run_check

    challenges = None
    if args.challenges:
        try:
            challenges = [Challenge(c.strip()) for c in args.challenges.split(",") if c.strip()]
        except ValueError:
            known = ", ".join(c.value for c in Challenge)
            raise ConfigError(f"--challenges: unknown challenge (known: {known})") from None
    if args.timeout <= 0 or not 1 <= args.count <= len(Challenge):
        raise ConfigError(f"--timeout must be positive and --count 1..{len(Challenge)}")
    rng = random.Random(args.seed) if args.seed is not None else None  # noqa: S311 - reproducible test frames, not security
    check = ChallengeResponseLiveness(challenges, count=args.count, timeout_s=args.timeout, rng=rng)
    with Camera(args.camera) as camera:
        result = run_check(camera, check, on_prompt=lambda p: print(p, file=sys.stderr))
    if args.json:
        print(json.dumps(result.to_dict(), sort_keys=True))
    else:
        verdict = "LIVE" if result.passed else f"NOT LIVE ({result.reason})"
        print(
            f"{verdict}: challenges {', '.join(result.challenges)}; "
            f"completed {', '.join(result.completed) or 'none'}; {result.frames} frames"
        )
    return 0 if result.passed else NO_MATCH


def run_calibrate(args: argparse.Namespace) -> int:
    """Suggest a verification threshold from labelled pairs of images."""
    from drivers.camera.calibration import rates, read_pairs, score_pairs, suggest, threshold_range

    pairs = read_pairs(args.pairs)
    thresholds = threshold_range(args.start, args.stop, args.step)
    scored = score_pairs(pairs, _verifier(None, enforce_quality=False))
    rows = rates(scored, thresholds)
    best = suggest(rows)
    same = sum(1 for p in pairs if p.same)
    no_face = sum(1 for s in scored if s.distance == float("inf"))
    if args.json:
        print(
            json.dumps(
                {
                    "pairs": len(pairs),
                    "same": same,
                    "different": len(pairs) - same,
                    "no_face": no_face,
                    "rows": [
                        {
                            "threshold": r.threshold,
                            "far": round(r.false_accept_rate, 4),
                            "frr": round(r.false_reject_rate, 4),
                        }
                        for r in rows
                    ],
                    "suggested_threshold": best.threshold,
                },
                sort_keys=True,
            )
        )
        return 0
    print(
        f"{len(pairs)} pairs: {same} same person, {len(pairs) - same} different; "
        f"{no_face} probes without a face"
    )
    print(f"{'threshold':>9}  {'FAR':>7}  {'FRR':>7}")
    for r in rows:
        print(f"{r.threshold:9.2f}  {r.false_accept_rate:7.2%}  {r.false_reject_rate:7.2%}")
    print(
        f"suggested threshold {best.threshold:.2f} "
        f"(FAR {best.false_accept_rate:.2%}, FRR {best.false_reject_rate:.2%})"
    )
    return 0
