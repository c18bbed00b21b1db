"""The citizen at the simulated kiosk: what a person does at the hardware, and nothing more.

Every control acts on a simulator (the card on the reader, the scene before the camera, the
finger on the sensor, the printer's paper and cover). With ``follow_challenges(True)`` the
citizen watches the kiosk's screen (the agent's ``face_prompt`` events) and does at once what a
challenge asks: blink, turn left, turn right.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from govedge.logs import fields, get_logger
from sim.kiosk.people import FINGERS, UnknownPersonError, person

if TYPE_CHECKING:
    from sim.kiosk.rig import KioskRig

log = get_logger(__name__)


class CitizenError(ValueError):
    """A control the rig cannot play (unknown person, card or scene)."""


class Citizen:
    """The controls of contract B (docs/kiosk-devices.md). Thread-safe."""

    def __init__(self, rig: KioskRig) -> None:
        self.rig = rig
        self.following = True
        self.card: str | None = None
        self.finger: str | None = None
        self.prompts: deque[dict[str, Any]] = deque(maxlen=200)
        self.verdicts: deque[dict[str, Any]] = deque(maxlen=50)
        self.verdict_count = 0
        self._lock = threading.Lock()

    # -- the card --------------------------------------------------------------------------

    def insert_card(self, who: str) -> None:
        """Put ``who``'s ID card on the reader (a rig person, or a key of the sim's deck)."""
        sim = self.rig.sims["idcard"]
        try:
            key = person(who).key
        except UnknownPersonError:
            if who not in sim.deck:
                raise CitizenError(
                    f"unknown person or card {who!r}; people: astronaut, grace_hopper; "
                    f"cards: {', '.join(sorted(sim.deck))}"
                ) from None
            key = who
        sim.insert_card(key)
        self.card = key
        log.info("citizen_card_inserted", extra=fields(card=key))

    def remove_card(self) -> None:
        """Take the ID card off the reader."""
        self.rig.sims["idcard"].insert_card(None)
        self.card = None
        log.info("citizen_card_removed")

    # -- the face ----------------------------------------------------------------------------

    def face(self, who: str) -> str:
        """Stand before the camera: PERSON, photo:PERSON, still:PERSON or nobody."""
        from sim.camera.live import SceneError

        try:
            shown = self.rig.scene.show(who)
        except SceneError as exc:
            raise CitizenError(str(exc)) from None
        return str(shown)

    def follow_challenges(self, on: bool = True) -> None:
        """Do what the face prompt asks at once (True), or ignore it (False)."""
        self.following = bool(on)

    def act(self, action: str, seconds: float | None = None) -> bool:
        """Blink, turn_left, turn_right or mouth_open now. Following a prompt, the citizen
        holds it until the screen shows it was seen (the progress moves, or the verdict comes),
        at most the challenge's time; the control endpoint's act lasts ``blink_s`` or
        ``turn_s``."""
        from sim.camera.live import SceneError

        s = self.rig.settings
        if seconds is None:
            seconds = s.blink_s if action == "blink" else s.turn_s
        try:
            done: bool = self.rig.scene.act(action, seconds)
        except SceneError as exc:
            raise CitizenError(str(exc)) from None
        return done

    def show_qr(self, text: str) -> None:
        """Hold a QR code holding ``text`` up to the camera."""
        if not text:
            raise CitizenError("show_qr needs a text")
        self.face(f"qr:{text}")

    # -- the finger --------------------------------------------------------------------------

    def place_finger(self, who: str, finger: str = FINGERS[0]) -> None:
        """Put a finger of ``who`` on the fingerprint sensor."""
        try:
            name = person(who).finger(finger)
        except UnknownPersonError as exc:
            raise CitizenError(str(exc)) from None
        self.rig.sims["finger"].module.place_finger(name)
        self.finger = name

    def lift_finger(self) -> None:
        """Take the finger off the fingerprint sensor."""
        self.rig.sims["finger"].module.lift_finger()
        self.finger = None

    # -- the printer (the staff's hands, really) -------------------------------------------

    def paper_out(self, on: bool = True) -> None:
        """Run the printer out of paper, or load it again."""
        self.rig.sims["printer"].set_state(paper_out=bool(on))

    def cover_open(self, on: bool = True) -> None:
        """Open the printer's cover, or close it."""
        self.rig.sims["printer"].set_state(cover_open=bool(on))

    # -- what the citizen saw ----------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """What the citizen sees and has done, for the control server's /state: card, face,
        finger, printer, the last prompts and verdicts.
        """
        printer = self.rig.sims["printer"].engine.state
        with self._lock:
            prompts = list(self.prompts)[-10:]
            verdicts = list(self.verdicts)[-5:]
        return {
            "card": self.card,
            "face": str(self.rig.scene.shown),
            "following": self.following,
            "finger": self.finger,
            "paper_out": printer.paper_out,
            "cover_open": printer.cover_open,
            "prompts": prompts,
            "verdicts": verdicts,
            "verdict_count": self.verdict_count,
            "receipts": len(self.rig.sims["printer"].receipts),
        }

    def last_verdict(self) -> dict[str, Any] | None:
        """The kiosk's latest verdict, or None before the first."""
        with self._lock:
            return self.verdicts[-1] if self.verdicts else None

    async def watch(self, agent: Any) -> None:
        """Read the kiosk's screen (face_prompt events) and answer challenges at once."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=256)
        agent.event_listeners.add(queue)
        holding = ""
        shown_progress: float | None = None
        try:
            while True:
                event = await queue.get()
                if event.get("event") != "face_prompt":
                    continue
                step = {k: v for k, v in event.items() if k != "event"}
                step["at"] = time.time()
                with self._lock:
                    self.prompts.append(step)
                    if step.get("step") == "verdict":
                        self.verdicts.append(step)
                        self.verdict_count += 1
                if step.get("step") == "challenge" and self.following:
                    action = str(step.get("action", ""))
                    try:
                        done = self.act(action, self.rig.settings.challenge_timeout_s + 1.0)
                    except CitizenError as exc:  # a prompt this citizen cannot play
                        log.warning("citizen_cannot_follow", extra=fields(reason=str(exc)))
                        continue
                    holding, shown_progress = (action if done else ""), None
                    if done:
                        log.info("citizen_followed", extra=fields(action=action))
                elif holding and step.get("step") == "progress":
                    value = float(step.get("value", 0.0))
                    if shown_progress is None:
                        shown_progress = value  # where the bar stood when the prompt came
                    elif value > shown_progress and holding == "blink":
                        self.rig.scene.release()  # the screen saw the eyes closed: open them
                        holding = ""
                elif holding and step.get("step") == "verdict":
                    self.rig.scene.release()
                    holding = ""
        finally:
            agent.event_listeners.discard(queue)
