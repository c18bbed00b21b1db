"""The hall kiosk's flow: a Qt-free, typed state machine on an asyncio loop.

attract -> document -> reading -> face (-> face_failed -> face ... -> fingerprint) -> menu
-> errand (proof_confirm -> printing [-> print_failed] | progress_entry/scan -> progress_result |
guide_list -> guide_detail) -> rate -> goodbye -> wipe -> attract.

Inputs are taps (``tap(action, arg)``, from the screens or a test) and the agent's device events
(card inserted/removed). One device or backend operation runs at a time as a task the flow owns;
leaving a visit cancels it. Every step but attract has an idle timeout; when it passes, a
countdown with a "more time" button shows, and its end wipes the visit. Removing the card
mid-visit wipes it too. Every change is published as an immutable ``View`` to ``on_view``; the
screens render views and nothing else. Errors reach the view as message keys, never as text of
an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from govedge.contract import EventKind
from govedge.logs import fields, get_logger
from kiosk.hall.config import KioskConfig
from kiosk.hall.errors import (
    BackendError,
    BackendNotFound,
    BackendRefused,
    DeviceError,
    KioskError,
)
from kiosk.hall.models import Application, Errand, Proof, RatingChoices
from kiosk.hall.protocols import DeviceClient, ServiceBackend
from kiosk.hall.receipt import proof_receipt
from kiosk.hall.session import Session

log = get_logger(__name__)

MAX_TYPED = 24
RETRY_EVENTS_S = 1.0
MAX_RETRY_EVENTS_S = 15.0
PRINTER_TROUBLE = ("paper_out", "cover_open", "offline")


class Step(StrEnum):
    """The kiosk's screens, in the order of a visit."""

    ATTRACT = "attract"
    DOCUMENT = "document"
    READING = "reading"
    FACE = "face"
    FACE_FAILED = "face_failed"
    FINGERPRINT = "fingerprint"
    MENU = "menu"
    PROOF_CONFIRM = "proof_confirm"
    PRINTING = "printing"
    PRINT_FAILED = "print_failed"
    PROGRESS_ENTRY = "progress_entry"
    PROGRESS_SCAN = "progress_scan"
    PROGRESS_RESULT = "progress_result"
    GUIDE_LIST = "guide_list"
    GUIDE_DETAIL = "guide_detail"
    RATE = "rate"
    GOODBYE = "goodbye"
    ERROR = "error"
    BUSY = "busy"
    MAINTENANCE_PIN = "maintenance_pin"
    MAINTENANCE = "maintenance"


CITIZEN_STEPS = frozenset(Step) - {Step.ATTRACT, Step.MAINTENANCE_PIN, Step.MAINTENANCE}
"""Steps during which a visit is under way (and a card removal cancels it)."""

CARD_HELD_STEPS = CITIZEN_STEPS - {Step.DOCUMENT, Step.GOODBYE}
"""Steps at which the card must stay on the reader."""


@dataclass(frozen=True, slots=True)
class View:
    """Everything a screen shows. Citizen data here are masked except where the step needs them
    (``typed`` is the application number the citizen is typing)."""

    step: Step
    lang: str
    elder: bool
    seq: int = 0
    message: str = ""  # text key: why we are here (an error, a refusal), shown prominently
    prompt: str = ""  # text key: what the citizen should do now (spoken)
    progress: float = 0.0
    attempt: int = 0
    attempts_max: int = 0
    countdown: int | None = None  # seconds left before the wipe, when showing
    greeting: str = ""  # the masked name
    subject_id: str = ""  # masked ID number
    document: str = ""
    errands: tuple[Errand, ...] = ()
    errand: Errand | None = None
    typed: str = ""
    application: Application | None = None
    proof: Proof | None = None
    rating: RatingChoices | None = None
    rating_level: int = 0
    rating_tags: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()  # the buttons this step offers besides its own content
    health: dict[str, Any] | None = None
    notice: str = ""  # a short note on the attract screen after a visit ended abnormally
    devices_ok: bool = True  # False while the agent's event stream is lost (card not seen)


ViewListener = Callable[[View], None]


@dataclass(slots=True)
class _Timer:
    deadline: float = 0.0
    countdown_until: float | None = None


@dataclass(slots=True)
class _Ui:
    lang: str
    elder: bool
    notice: str = ""
    notice_until: float = 0.0
    rating_level: int = 0
    rating_tags: list[str] = field(default_factory=list)
    pin: bytearray = field(default_factory=bytearray)


class Flow:
    """The kiosk flow. Create it on the loop that will run it, then ``await flow.run()``."""

    def __init__(
        self,
        config: KioskConfig,
        devices: DeviceClient,
        backend: ServiceBackend,
        on_view: ViewListener | None = None,
        tick_s: float = 0.2,
    ) -> None:
        self.config = config
        self.devices = devices
        self.backend = backend
        self.listeners: list[ViewListener] = [on_view] if on_view else []
        self.tick_s = tick_s
        self.session = Session()
        self.step = Step.ATTRACT
        self.ui = _Ui(lang=config.lang, elder=False)
        self.timer = _Timer()
        self.view = View(step=Step.ATTRACT, lang=config.lang, elder=False)
        self._op: asyncio.Task[None] | None = None
        # The errand list, asked of the hub while the citizen's face is checked (no citizen
        # data in the request), so that the menu shows as soon as the check passes.
        self._prefetch: tuple[str, asyncio.Task[list[Errand]]] | None = None
        self._fields: dict[str, Any] = {}
        self._errands: tuple[Errand, ...] = ()
        self._seq = 0
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.visit_started = 0.0
        self.last_visit_end = ""
        self.devices_ok = True
        self._publish()

    # -- running ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Follow device events and the clock until cancelled; wipes the session on the way out."""
        self._tasks = [
            asyncio.create_task(self._follow_events(), name="kiosk-events"),
            asyncio.create_task(self._tick(), name="kiosk-clock"),
        ]
        try:
            await asyncio.gather(*self._tasks)
        finally:
            await self.stop()

    async def stop(self) -> None:
        """Cancel everything and wipe: the app is going away."""
        if self._stopping:
            return
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        self._cancel_op()
        self._drop_prefetch()
        self.session.wipe()
        self.ui.pin[:] = b"\0" * len(self.ui.pin)
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _follow_events(self) -> None:
        """The agent's events, reconnecting with a growing pause (1 s up to 15 s) while it is
        away; one log line when the stream is lost, none per retry."""
        pause = RETRY_EVENTS_S
        lost = False
        while True:
            try:
                async for event in self.devices.events():
                    if lost:
                        log.info("device_events_back")
                        lost, pause = False, RETRY_EVENTS_S
                        self._set_devices_ok(True)
                    self.device_event(event.event, event.document, event.state)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a broken stream must not stop the kiosk
                if not lost:
                    error = str(exc) if isinstance(exc, KioskError) else type(exc).__name__
                    log.warning("device_events_lost", extra=fields(error=error))
                    self._set_devices_ok(False)
                lost = True
            await asyncio.sleep(pause)
            pause = min(MAX_RETRY_EVENTS_S, pause * 2) if lost else RETRY_EVENTS_S

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            self.clock()

    def _set_devices_ok(self, ok: bool) -> None:
        if ok != self.devices_ok:
            self.devices_ok = ok
            self._publish()

    def now(self) -> float:
        """The flow's clock in monotonic seconds; every timeout and countdown reads it."""
        return time.monotonic()

    def clock(self) -> None:
        """Advance the idle timeout and the countdown (called by the clock task)."""
        now = self.now()
        if self.ui.notice and now >= self.ui.notice_until:
            self.ui.notice = ""
            self._publish()
        if self.step is Step.ATTRACT:
            return
        t = self.timer
        if t.countdown_until is None:
            if now < t.deadline:
                return
            if self.step in (Step.GOODBYE, Step.MAINTENANCE, Step.MAINTENANCE_PIN):
                self.wipe("timeout" if self.step is not Step.GOODBYE else "done", notice="")
                return
            t.countdown_until = now + self.config.countdown_s
            log.info("visit_countdown", extra=fields(step=self.step.value))
            self._publish()
            return
        if now >= t.countdown_until:
            self.wipe("timeout", notice="notice.timed_out")
            return
        left = int(t.countdown_until - now + 0.999)
        if left != self.view.countdown:
            self._publish()

    # -- inputs -------------------------------------------------------------------------------

    def device_event(self, event: str, document: str = "", state: str = "") -> None:
        """An event from the agent (card_inserted, card_removed, printer_status, ...)."""
        if event == EventKind.CARD_INSERTED and self.step in (Step.ATTRACT, Step.DOCUMENT):
            kind = "social_security" if document == "social_security" else "resident_id"
            self._start_visit()
            self._read_card(kind)
        elif event == EventKind.CARD_REMOVED:
            if self.step in CARD_HELD_STEPS:
                log.info("card_removed_mid_visit", extra=fields(step=self.step.value))
                self.wipe("card_removed", notice="notice.card_removed")
            elif self.step is Step.GOODBYE:
                self.wipe("done", notice="")

    def tap(self, action: str, arg: str = "") -> None:
        """A touch on the screen. Unknown or out-of-step actions are ignored (never an error)."""
        self._touch()
        common = self._common_tap(action, arg)
        if common:
            return
        handler = getattr(self, f"_tap_{self.step.value}", None)
        if handler is not None:
            handler(action, arg)

    def _common_tap(self, action: str, arg: str) -> bool:
        if action == "lang":
            self.ui.lang = (
                arg if arg in ("zh-CN", "en") else ("en" if self.ui.lang == "zh-CN" else "zh-CN")
            )
            if self.step in CITIZEN_STEPS:
                self._errands = ()  # names are per language: reload at the menu
                self._drop_prefetch()
            self._publish()
            return True
        if action == "elder":
            self.ui.elder = not self.ui.elder if arg == "" else arg == "on"
            self._arm_timer()
            self._publish()
            return True
        if action == "more_time":
            self._arm_timer()
            self._publish()
            return True
        if action == "finish" and self.step in CITIZEN_STEPS:
            self.wipe("done" if self.session.errands_done else "cancelled", notice="")
            return True
        if action == "menu" and self.session.verified and self.step in CITIZEN_STEPS:
            self._to_menu()
            return True
        return False

    # -- per-step taps ------------------------------------------------------------------------

    def _tap_attract(self, action: str, arg: str) -> None:
        if action == "start":
            self._start_visit()
            self._go(Step.DOCUMENT, prompt="prompt.place_card", actions=("use_ss_card", "finish"))
        elif action == "maintenance":
            self.ui.pin = bytearray()
            self._go(Step.MAINTENANCE_PIN, prompt="prompt.staff_pin", actions=("close",))

    def _tap_document(self, action: str, arg: str) -> None:
        if action == "use_ss_card":
            self._go(
                Step.DOCUMENT, prompt="prompt.insert_ss_card", actions=("use_id_card", "finish")
            )
        elif action == "use_id_card":
            self._go(Step.DOCUMENT, prompt="prompt.place_card", actions=("use_ss_card", "finish"))

    def _tap_face_failed(self, action: str, arg: str) -> None:
        if action == "retry":
            self._start_face()

    def _tap_fingerprint(self, action: str, arg: str) -> None:
        if action == "retry":
            self._start_fingerprint()

    def _tap_error(self, action: str, arg: str) -> None:
        if action == "retry" and self.session.verified:
            self._to_menu()

    def _tap_menu(self, action: str, arg: str) -> None:
        if action == "errand":
            errand = next((e for e in self._errands if e.id == arg), None)
            if errand is None:
                return
            self.session.errand = errand
            if errand.kind == "proof":
                self.session.new_request()
                self._go(
                    Step.PROOF_CONFIRM,
                    prompt="prompt.confirm_proof",
                    actions=("print", "menu", "finish"),
                )
            elif errand.kind == "progress":
                self._clear_typed()
                self._go(
                    Step.PROGRESS_ENTRY,
                    prompt="prompt.type_number",
                    actions=("scan", "menu", "finish"),
                )
            else:
                self._go(Step.GUIDE_DETAIL, prompt="", actions=("done", "guide", "menu"))
        elif action == "guide":
            self.session.errand = None
            self._go(Step.GUIDE_LIST, prompt="prompt.pick_guide", actions=("menu", "finish"))

    def _tap_guide_list(self, action: str, arg: str) -> None:
        if action == "open":
            errand = next((e for e in self._errands if e.id == arg), None)
            if errand is not None:
                self.session.errand = errand
                self._go(Step.GUIDE_DETAIL, prompt="", actions=("done", "guide", "menu"))

    def _tap_guide_detail(self, action: str, arg: str) -> None:
        if action == "guide":
            self._go(Step.GUIDE_LIST, prompt="prompt.pick_guide", actions=("menu", "finish"))
        elif action == "done":
            self._errand_done()

    def _tap_proof_confirm(self, action: str, arg: str) -> None:
        if action == "print":
            self._start_print()

    def _tap_print_failed(self, action: str, arg: str) -> None:
        if action == "retry":
            self._start_print()

    def _tap_progress_entry(self, action: str, arg: str) -> None:
        typed = self.session.typed
        if action == "key" and len(arg) == 1 and arg.isascii() and arg.isalnum():
            if len(typed) < MAX_TYPED:
                typed.extend(arg.upper().encode())
            self._fields["message"] = ""
            self._publish()
        elif action == "backspace" and typed:
            typed[-1:] = b"\0"
            del typed[-1:]
            self._publish()
        elif action == "clear":
            self._clear_typed()
            self._publish()
        elif action == "submit" and typed:
            self._lookup(typed.decode())
        elif action == "scan":
            self._go(Step.PROGRESS_SCAN, prompt="prompt.show_qr", actions=("cancel_scan", "menu"))
            self._run_op(self._scan())

    def _tap_progress_scan(self, action: str, arg: str) -> None:
        if action == "cancel_scan":
            self._cancel_op()
            self._go(
                Step.PROGRESS_ENTRY, prompt="prompt.type_number", actions=("scan", "menu", "finish")
            )

    def _tap_progress_result(self, action: str, arg: str) -> None:
        if action == "done":
            self._errand_done()

    def _tap_rate(self, action: str, arg: str) -> None:
        if action == "level" and arg.isdigit() and 1 <= int(arg) <= 5:
            self.ui.rating_level = int(arg)
            self._publish()
        elif action == "tag" and arg:
            tags = self.ui.rating_tags
            if arg in tags:
                tags.remove(arg)
            elif len(tags) < 8:
                tags.append(arg)
            self._publish()
        elif action == "submit" and self.ui.rating_level:
            self._run_op(self._rate())
        elif action == "skip":
            self._goodbye()

    def _tap_goodbye(self, action: str, arg: str) -> None:
        if action == "another" and self.session.verified:
            self._to_menu()

    def _tap_maintenance_pin(self, action: str, arg: str) -> None:
        pin = self.ui.pin
        if action == "key" and arg.isdigit() and len(arg) == 1 and len(pin) < 12:
            pin.extend(arg.encode())
            self._fields["message"] = ""
            self._publish()
        elif action == "backspace" and pin:
            del pin[-1:]
            self._publish()
        elif action == "submit":
            ok = self._pin_ok(bytes(pin))
            pin[:] = b"\0" * len(pin)
            self.ui.pin = bytearray()
            if ok:
                log.info("maintenance_opened")
                self._go(Step.MAINTENANCE, prompt="", actions=("refresh", "close"))
                self._run_op(self._load_health())
            else:
                log.warning("maintenance_pin_refused")
                self._fields["message"] = (
                    "maintenance.disabled"
                    if not self.config.staff_pin_sha256
                    else "maintenance.bad_pin"
                )
                self._publish()
        elif action == "close":
            self._to_attract()

    def _tap_maintenance(self, action: str, arg: str) -> None:
        if action == "refresh":
            self._run_op(self._load_health())
        elif action == "close":
            self._to_attract()

    # -- transitions --------------------------------------------------------------------------

    def _start_visit(self) -> None:
        if self.step is Step.ATTRACT:
            self.session = Session()
            self.visit_started = self.now()
            self.ui.notice = ""
            log.info("visit_started", extra=fields(visit=self.session.visit_id[:8]))

    def _go(
        self, step: Step, prompt: str = "", actions: tuple[str, ...] = (), **extra: Any
    ) -> None:
        self.step = step
        self._fields = {"prompt": prompt, "actions": actions, **extra}
        self._arm_timer()
        self._publish()

    def _update(self, **changes: Any) -> None:
        """Change what the current step shows (progress, prompt) and count it as activity."""
        self._fields.update(changes)
        self._arm_timer()
        self._publish()

    def _arm_timer(self) -> None:
        self.timer = _Timer(
            deadline=self.now() + self.config.step_timeout(self.step.value, self.ui.elder)
        )

    def _touch(self) -> None:
        """Any touch is activity: it restarts the idle time and ends a countdown."""
        if self.step is Step.ATTRACT:
            return
        counting = self.timer.countdown_until is not None
        self._arm_timer()
        if counting:
            self._publish()

    def wipe(self, reason: str, notice: str = "") -> None:
        """End the visit on any path: cancel what runs, overwrite and drop the session."""
        self._cancel_op()
        had_visit = self.step in CITIZEN_STEPS or self.session.card is not None
        errands = self.session.errands_done
        self.session.wipe()
        self.session = Session()
        self._clear_typed()
        self._errands = ()
        self._drop_prefetch()
        self.ui = _Ui(lang=self.config.lang, elder=False)
        if notice:
            self.ui.notice = notice
            self.ui.notice_until = self.now() + self.config.removed_notice_s
        if had_visit:
            seconds = round(self.now() - self.visit_started, 1) if self.visit_started else 0.0
            log.info("visit_ended", extra=fields(reason=reason, errands=errands, seconds=seconds))
        self.last_visit_end = reason
        self.visit_started = 0.0
        self.step = Step.ATTRACT
        self._fields = {}
        self.timer = _Timer()
        self._publish()

    def _to_attract(self) -> None:
        self._cancel_op()
        self.ui.pin[:] = b"\0" * len(self.ui.pin)
        self.ui.pin = bytearray()
        self.step = Step.ATTRACT
        self._fields = {}
        self.timer = _Timer()
        self._publish()

    def _to_menu(self) -> None:
        self._cancel_op()
        self.session.errand = None
        self.session.proof = None
        self.session.request_id = ""
        self._clear_typed()
        self.ui.rating_level = 0
        self.ui.rating_tags = []
        if self._errands:
            self._go(Step.MENU, prompt="prompt.pick_errand", actions=("guide", "finish"))
            return
        self._go(Step.BUSY, prompt="prompt.wait", actions=("finish",))
        self._run_op(self._load_errands())

    def _errand_done(self) -> None:
        self.session.errands_done += 1
        self.ui.rating_level = 0
        self.ui.rating_tags = []
        self._go(Step.RATE, prompt="prompt.rate", actions=("skip",))
        self._run_op(self._load_rating())

    def _goodbye(self) -> None:
        printed = self.session.proof is not None
        self._go(
            Step.GOODBYE,
            prompt="prompt.take_card_receipt" if printed else "prompt.take_card",
            actions=("another", "finish"),
        )

    def _error(self, message: str, back: str = "menu") -> None:
        actions = ("retry", "finish") if back == "menu" and self.session.verified else ("finish",)
        self._go(Step.ERROR, prompt="", actions=actions, message=message)

    def _clear_typed(self) -> None:
        self.session.typed[:] = b"\0" * len(self.session.typed)
        self.session.typed = bytearray()

    def _pin_ok(self, pin: bytes) -> bool:
        expected = self.config.staff_pin_sha256.lower()
        if not expected or not pin:
            return False
        return hmac.compare_digest(hashlib.sha256(pin).hexdigest(), expected)

    # -- operations ---------------------------------------------------------------------------

    def _run_op(self, coro: Coroutine[Any, Any, None]) -> None:
        self._cancel_op()
        self._op = asyncio.get_running_loop().create_task(self._guarded(coro))

    async def _guarded(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except BackendError as exc:
            log.warning("backend_failed", extra=fields(step=self.step.value, error=str(exc)))
            self._error("error.backend_down")
        except DeviceError as exc:
            log.warning(
                "device_failed",
                extra=fields(step=self.step.value, status=exc.status, code=exc.code),
            )
            self._error("error.device")
        except Exception as exc:  # noqa: BLE001 - the citizen sees plain words whatever went wrong
            log.error("flow_failed", extra=fields(step=self.step.value, error=type(exc).__name__))
            self._error("error.unexpected")

    def _cancel_op(self) -> None:
        op, self._op = self._op, None
        if op is not None and not op.done() and op is not asyncio.current_task():
            op.cancel()

    def _read_card(self, kind: str) -> None:
        self._go(Step.READING, prompt="prompt.reading", actions=())
        self._run_op(self._do_read(kind))

    async def _do_read(self, kind: str) -> None:
        retries = self.config.card_read_retries
        for attempt in range(retries + 1):
            try:
                if kind == "social_security":
                    card = await self.devices.read_social_security_card()
                else:
                    card = await self.devices.read_id_card()
                break
            except DeviceError as exc:
                if attempt < retries and exc.status in (409, 502):
                    await asyncio.sleep(0.3)
                    continue
                log.warning("card_read_failed", extra=fields(status=exc.status, code=exc.code))
                self._go(Step.ERROR, message="error.card_read", actions=("finish",))
                return
        self.session.card = card
        log.info("card_read", extra=fields(document=card.document))
        if not card.photo:
            self._go(Step.ERROR, message="error.card_no_photo", actions=("finish",))
            return
        self._start_face()

    def _start_prefetch(self) -> None:
        if self._errands or self._prefetch is not None:
            return
        lang = self.ui.lang
        task = asyncio.get_running_loop().create_task(self.backend.errands(lang))
        # A failure here is reported when the menu needs the list; never "never retrieved".
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._prefetch = (lang, task)

    def _drop_prefetch(self) -> None:
        if self._prefetch is not None:
            self._prefetch[1].cancel()
            self._prefetch = None

    def _start_face(self) -> None:
        self._start_prefetch()
        self._go(
            Step.FACE,
            prompt="face.look",
            actions=("finish",),
            attempt=self.session.face_failures + 1,
        )
        self._run_op(self._do_face())

    async def _do_face(self) -> None:
        card = self.session.card
        if card is None:
            return
        attempt = self.session.face_failures + 1
        verdict = None
        async for step in self.devices.face_session(bytes(card.photo), attempt):
            if step.step == "verdict":
                verdict = step
                break
            if step.step == "progress":
                self._update(progress=step.value)
            elif step.text_key:
                self._update(prompt=step.text_key, progress=0.0 if step.step == "look" else None)
        if verdict is not None and verdict.passed:
            self.session.verified_by = "face"
            log.info("identity_verified", extra=fields(method="face", attempt=attempt))
            self._to_menu()
            return
        reason = verdict.reason if verdict is not None else "timeout"
        self.session.face_failures += 1
        log.info("face_failed", extra=fields(reason=reason, attempt=attempt))
        if reason == "camera_fault" or self.session.face_failures >= self.config.face_attempts:
            self._start_fingerprint()
            return
        self._go(
            Step.FACE_FAILED,
            message=f"face.fail.{reason}",
            prompt="prompt.face_retry",
            actions=("retry", "finish"),
            attempt=attempt,
        )

    def _start_fingerprint(self) -> None:
        if self.session.card is None or self.session.card.document != "resident_id":
            self._go(Step.ERROR, message="error.no_fallback", actions=("finish",))
            return
        self._go(Step.FINGERPRINT, prompt="prompt.place_finger", actions=("finish",))
        self._run_op(self._do_fingerprint())

    async def _do_fingerprint(self) -> None:
        try:
            result = await self.devices.match_fingerprint()
        except DeviceError as exc:
            message = "finger.no_finger" if exc.code == "NoFingerError" else "finger.fault"
            if exc.status in (503, 502, 404):
                message = "finger.unavailable"
            self._go(
                Step.FINGERPRINT,
                prompt="prompt.place_finger",
                message=message,
                actions=("retry", "finish"),
            )
            return
        if result.matched:
            self.session.verified_by = "fingerprint"
            log.info("identity_verified", extra=fields(method="fingerprint"))
            self._to_menu()
            return
        log.info("fingerprint_mismatch")
        self._go(
            Step.FINGERPRINT,
            prompt="prompt.place_finger",
            message="finger.mismatch",
            actions=("retry", "finish"),
        )

    async def _load_errands(self) -> None:
        prefetch, self._prefetch = self._prefetch, None
        if prefetch is not None and prefetch[0] == self.ui.lang:
            try:
                errands = await prefetch[1]
            except BackendError:
                errands = await self.backend.errands(self.ui.lang)  # once more, now
        else:
            if prefetch is not None:
                prefetch[1].cancel()
            errands = await self.backend.errands(self.ui.lang)
        self._errands = tuple(errands)
        self._go(Step.MENU, prompt="prompt.pick_errand", actions=("guide", "finish"))

    def _start_print(self) -> None:
        self._go(Step.PRINTING, prompt="prompt.printing", actions=())
        self._run_op(self._do_print())

    async def _do_print(self) -> None:
        s = self.session
        errand, card = s.errand, s.card
        if errand is None or card is None or not errand.proof_type:
            self._error("error.unexpected")
            return
        state = await self.devices.printer_status()
        if state in PRINTER_TROUBLE:
            self._print_failed(state)
            return
        if s.proof is None:
            # The same request_id on every retry: the hub hands back the same proof.
            try:
                s.proof = await self.backend.issue_proof(
                    s.request_id,
                    errand.proof_type,
                    card.id_number,
                    card.name,
                    self.config.hall,
                    self.ui.lang,
                )
            except BackendRefused as exc:
                log.warning("proof_refused", extra=fields(error=str(exc)))
                self._error("error.proof_refused")
                return
            log.info("proof_issued", extra=fields(proof=s.proof.proof_id, errand=errand.id))
            self._update()  # the screen may now say the proof exists (and is kept on a retry)
        receipt = proof_receipt(s.proof, self.config.hall_name, self.ui.lang)
        try:
            await self.devices.print_receipt(receipt)
        except DeviceError as exc:
            if exc.status in (409, 503, 502):
                self._print_failed(exc.state or "fault")
                return
            raise
        log.info("proof_printed", extra=fields(proof=s.proof.proof_id))
        self._errand_done()

    def _print_failed(self, state: str) -> None:
        message = {"paper_out": "printer.paper_out", "cover_open": "printer.cover_open"}.get(
            state, "printer.fault"
        )
        log.warning("print_failed", extra=fields(state=state))
        self._go(
            Step.PRINT_FAILED,
            message=message,
            prompt="prompt.print_failed",
            actions=("retry", "menu", "finish"),
        )

    def _lookup(self, number: str) -> None:
        self._go(Step.BUSY, prompt="prompt.wait", actions=("menu",))
        self._run_op(self._do_lookup(number))

    async def _do_lookup(self, number: str) -> None:
        try:
            application = await self.backend.application(number, self.ui.lang)
        except BackendNotFound:
            self._go(
                Step.PROGRESS_ENTRY,
                prompt="prompt.type_number",
                message="progress.not_found",
                actions=("scan", "menu", "finish"),
            )
            return
        except BackendRefused:
            self._go(
                Step.PROGRESS_ENTRY,
                prompt="prompt.type_number",
                message="progress.bad_number",
                actions=("scan", "menu", "finish"),
            )
            return
        self._go(Step.PROGRESS_RESULT, prompt="", application=application, actions=("done", "menu"))

    async def _scan(self) -> None:
        try:
            text = await self.devices.scan_qr(self.config.qr_scan_timeout_s)
        except DeviceError as exc:
            message = "progress.no_qr" if exc.person_must_act else "progress.camera_fault"
            self._go(
                Step.PROGRESS_ENTRY,
                prompt="prompt.type_number",
                message=message,
                actions=("scan", "menu", "finish"),
            )
            return
        number = application_number_from_qr(text)
        if not number:
            self._go(
                Step.PROGRESS_ENTRY,
                prompt="prompt.type_number",
                message="progress.bad_qr",
                actions=("scan", "menu", "finish"),
            )
            return
        self._clear_typed()
        self.session.typed.extend(number.encode())
        await self._do_lookup(number)

    async def _load_rating(self) -> None:
        try:
            choices = await self.backend.rating_choices(self.ui.lang)
        except BackendError:
            choices = RatingChoices(levels=tuple((n, "") for n in range(1, 6)), tags=())
        self._fields["rating"] = choices
        self._publish()

    async def _rate(self) -> None:
        errand = self.session.errand
        try:
            await self.backend.rate(
                self.ui.rating_level,
                list(self.ui.rating_tags),
                self.config.hall,
                errand.id if errand else "guide",
            )
            log.info("rating_sent", extra=fields(level=self.ui.rating_level))
        except BackendError as exc:
            # The rating is a courtesy: a hub that is down must not hold the citizen back.
            log.warning("rating_not_sent", extra=fields(error=str(exc)))
        self._goodbye()

    async def _load_health(self) -> None:
        try:
            health = await self.devices.health()
        except DeviceError:
            self._update(message="maintenance.agent_down", health=None)
            return
        self._update(health=health, message="")

    # -- publishing ---------------------------------------------------------------------------

    def _publish(self) -> None:
        self._seq += 1
        f = {k: v for k, v in self._fields.items() if v is not None}
        s = self.session
        countdown = None
        if self.timer.countdown_until is not None:
            countdown = max(0, int(self.timer.countdown_until - self.now() + 0.999))
        pin_mask = "•" * len(self.ui.pin)
        view = View(
            step=self.step,
            lang=self.ui.lang,
            elder=self.ui.elder,
            seq=self._seq,
            message=f.get("message", ""),
            prompt=f.get("prompt", ""),
            progress=float(f.get("progress", 0.0)),
            attempt=int(f.get("attempt", 0)),
            attempts_max=self.config.face_attempts,
            countdown=countdown,
            greeting=s.masked_name(),
            subject_id=s.masked_id(),
            document=s.card.document if s.card else "",
            errands=self._errands,
            errand=s.errand,
            typed=pin_mask
            if self.step is Step.MAINTENANCE_PIN
            else s.typed.decode(errors="replace"),
            application=f.get("application"),
            proof=s.proof,
            rating=f.get("rating"),
            rating_level=self.ui.rating_level,
            rating_tags=tuple(self.ui.rating_tags),
            actions=tuple(f.get("actions", ())),
            health=f.get("health"),
            notice=self.ui.notice,
            devices_ok=self.devices_ok,
        )
        self.view = view
        self._changed.set()
        for listener in list(self.listeners):
            try:
                listener(view)
            except Exception as exc:  # noqa: BLE001 - a broken screen must not stop the flow
                log.error("view_listener_failed", extra=fields(error=type(exc).__name__))

    async def until(self, predicate: Callable[[View], bool], within: float = 10.0) -> View:
        """Wait until the current view satisfies ``predicate`` (for tests, the bench, the demo)."""
        async with asyncio.timeout(within):
            while not predicate(self.view):
                self._changed.clear()
                await self._changed.wait()
        return self.view

    async def until_step(self, step: Step, within: float = 10.0) -> View:
        """Wait until the flow shows ``step``; ``TimeoutError`` after ``within`` seconds."""
        return await self.until(lambda v: v.step is step, within)


def application_number_from_qr(text: str) -> str:
    """The application number in a scanned QR: the text itself, or the last part of a URL or
    of ``key=value`` text; letters, digits and dashes only."""
    candidate = text.strip().rstrip("/")
    for sep in ("/", "=", ":"):
        if sep in candidate:
            candidate = candidate.rsplit(sep, 1)[1]
    candidate = candidate.strip().upper()
    ok = (
        candidate
        and len(candidate) <= MAX_TYPED
        and all(c.isascii() and (c.isalnum() or c == "-") for c in candidate)
    )
    return candidate if ok else ""


def with_lang(view: View, lang: str) -> View:
    """A copy of ``view`` in another language (screens use it for the screenshot matrix)."""
    return replace(view, lang=lang)
