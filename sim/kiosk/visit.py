"""``govedge sim visit``: play one citizen's visit at a running kiosk rig, step by step.

Insert the card, stand before the camera (following the challenges), wait for the face verdict
the kiosk app's session produces, optionally place a finger, then take the card back. Each step
prints one JSON line. The rig is found by ``--control URL``, or by ``--rig FILE`` (the rig.json
that ``govedge sim kiosk`` writes).
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from govedge.errors import ConfigError, GovedgeError


class VisitError(GovedgeError):
    """The rig's control endpoint refused a step or cannot be reached."""


def register(parser: argparse.ArgumentParser) -> None:
    """Add the simulated visit's options to ``parser``."""
    parser.add_argument("--control", help="the rig's control URL (http://127.0.0.1:PORT)")
    parser.add_argument("--rig", type=Path, help="the rig.json written by govedge sim kiosk")
    parser.add_argument("--person", default="astronaut", help="whose card is inserted")
    parser.add_argument(
        "--face",
        help="who stands before the camera: PERSON, photo:PERSON, still:PERSON, nobody "
        "(default: the card's person)",
    )
    parser.add_argument("--finger", help="whose finger to place after the face step")
    parser.add_argument("--no-follow", action="store_true", help="ignore the face challenges")
    parser.add_argument(
        "--wait", type=float, default=15.0, help="seconds to wait for the app's face verdict"
    )
    parser.add_argument(
        "--finger-hold", type=float, default=3.0, help="seconds the finger stays on the sensor"
    )
    parser.add_argument("--keep-card", action="store_true", help="leave the card on the reader")
    parser.set_defaults(func=run)


class Control:
    """A small client of sim.kiosk.control."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body or {}).encode() if method == "POST" else None
        request = urllib.request.Request(  # noqa: S310 - the rig's own local http URL
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10.0) as response:  # noqa: S310 - the rig's own local http URL
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise VisitError(f"{path}: {exc.code} {detail}") from None
        except OSError as exc:
            raise VisitError(f"cannot reach the kiosk rig at {self.url}: {exc}") from None

    def do(self, control: str, **body: Any) -> Any:
        """POST ``control`` (a name in sim.kiosk.control.CONTROLS) with ``body`` as JSON.

        Raises VisitError with the rig's answer when it refuses, or when it cannot be reached.
        """
        return self._call("POST", f"/{control}", body)

    def state(self) -> dict[str, Any]:
        """What the citizen sees and has done (Citizen.state, through GET /state)."""
        result: dict[str, Any] = self._call("GET", "/state")
        return result


def _control_url(args: argparse.Namespace) -> str:
    if args.control:
        return str(args.control)
    if args.rig:
        try:
            return str(json.loads(args.rig.read_text())["control_url"])
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"--rig {args.rig}: no control_url in it ({exc})") from None
    raise ConfigError("give --control URL or --rig FILE (see govedge sim kiosk)")


def _say(step: str, **info: Any) -> None:
    print(json.dumps({"step": step, **info}, ensure_ascii=False), flush=True)


def wait_for_verdict(control: Control, seen: int, timeout: float) -> dict[str, Any] | None:
    """The first face verdict after the ``seen`` ones the rig had, or None after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = control.state()
        if int(state.get("verdict_count", 0)) > seen and state.get("verdicts"):
            return dict(state["verdicts"][-1])
        time.sleep(0.1)
    return None


def visit(control: Control, args: argparse.Namespace) -> int:
    """Play the visit; 0 when the steps ran (whatever the kiosk decided)."""
    before = int(control.state().get("verdict_count", 0))
    control.do("follow_challenges", on=not args.no_follow)
    control.do("insert_card", person=args.person)
    _say("insert_card", person=args.person)
    who = args.face or args.person
    control.do("face", who=who)
    _say("face", who=who, following=not args.no_follow)
    verdict = wait_for_verdict(control, before, args.wait)
    if verdict is None:
        _say("face_verdict", seen=False, note=f"no face session within {args.wait:g} s")
    else:
        verdict.pop("at", None)
        _say("face_verdict", seen=True, **{k: v for k, v in verdict.items() if k != "step"})
    if args.finger:
        control.do("place_finger", person=args.finger)
        _say("place_finger", person=args.finger)
        time.sleep(max(0.0, args.finger_hold))
        control.do("lift_finger")
        _say("lift_finger")
    control.do("face", who="nobody")
    if not args.keep_card:
        control.do("remove_card")
        _say("remove_card")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run simulated citizen visits on a kiosk rig."""
    if args.wait < 0 or args.finger_hold < 0:
        raise ConfigError("--wait and --finger-hold must not be negative")
    return visit(Control(_control_url(args)), args)
