"""The simulated kiosk rig: one hall kiosk's hardware on the wire and a REAL edge agent on it.

``KioskRig`` starts the ID-card reader simulator (GA/T 467 on a pty, holding the rig people's
cards), the fingerprint module (R30x on a pty), the receipt printer (ESC/POS on TCP) and the
face camera (an MJPEG network camera showing a live scene), writes a device config for them, and
runs ``edge_agent`` with its local device API on loopback in a thread of its own. Nothing above
the wire is faked: the agent's real drivers talk to the simulators.

``rig.citizen`` plays a person at the hardware (insert_card, face, follow_challenges,
place_finger, ...); the same controls are served over HTTP on loopback (``rig.control_url``,
see sim.kiosk.control) for ``govedge sim visit``.

From Python::

    with KioskRig(broker_url="mqtt://127.0.0.1:1883") as rig:
        rig.citizen.insert_card("astronaut")
        ...  # call rig.api_url with Authorization: Bearer rig.token

From the command line: ``govedge sim kiosk`` (sim.kiosk.cli).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from govedge.errors import GovedgeError
from govedge.logs import fields, get_logger
from sim.kiosk.citizen import Citizen

log = get_logger(__name__)

RIG_FILE = "rig.json"
DEAD_BROKER = "mqtt://127.0.0.1:1"
"""Where the agent's link points when the rig runs without a broker: it stays down, and
everything the local API does still works."""


class RigError(GovedgeError):
    """The rig could not start (a simulator, the agent or its local API)."""


@dataclass(frozen=True, slots=True)
class RigSettings:
    """Kiosk-sized rates and bounds, each overridable."""

    device_id: str = "kiosk-sim-1"
    broker_url: str | None = None  # None: start a private Mosquitto if installed
    api_port: int = 0
    control_port: int = 0  # 0: a free port; -1: no control endpoint
    camera_fps: float = 10.0
    card_poll_s: float = 0.2  # how soon a card placed or taken becomes an event
    finger_timeout_s: float = 5.0
    look_timeout_s: float = 3.0
    challenge_timeout_s: float = 3.0
    challenges: int = 1
    blink_s: float = 0.4  # how long the citizen's eyes stay closed
    turn_s: float = 0.8  # how long the citizen keeps the head turned


class KioskRig:
    """One simulated kiosk; ``start()``/``stop()`` or a context manager."""

    def __init__(
        self,
        settings: RigSettings | None = None,
        *,
        workdir: str | Path | None = None,
        **overrides: Any,
    ) -> None:
        base = settings or RigSettings()
        self.settings = RigSettings(**{**asdict(base), **overrides})
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="govedge-kiosk-"))
        self.sims: dict[str, Any] = {}
        self.scene: Any = None
        self.agent: Any = None
        self.citizen = Citizen(self)
        self.control: Any = None
        self.broker: Any = None
        self.broker_url = DEAD_BROKER
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._agent_task: asyncio.Task[None] | None = None
        self._ready: Future[None] = Future()

    # -- addresses -----------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """The agent's local API; empty until the rig has started."""
        return str(self.agent.local_api.url) if self.agent is not None else ""

    @property
    def token_file(self) -> Path:
        """Where the agent writes the local API's bearer token."""
        return self.workdir / "api.token"

    @property
    def token(self) -> str:
        """The local API's bearer token; empty until the rig has started."""
        return str(self.agent.local_api.token) if self.agent is not None else ""

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header for calls to the local API."""
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def control_url(self) -> str:
        """The citizen control server; empty until the rig has started."""
        return str(self.control.url) if self.control is not None else ""

    def describe(self) -> dict[str, Any]:
        """Where everything is (also written to ``<workdir>/rig.json``)."""
        from sim.kiosk.people import PEOPLE

        return {
            "device_id": self.settings.device_id,
            "api_url": self.api_url,
            "token_file": str(self.token_file),
            "control_url": self.control_url,
            "broker_url": self.broker_url,
            "camera_url": self.sims["camera"].url if "camera" in self.sims else "",
            "people": list(PEOPLE),
            "workdir": str(self.workdir),
        }

    # -- life cycle ----------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> KioskRig:
        """Start simulators, agent and control; return once the drivers are online."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_sims()
            self._start_broker()
            path = self.workdir / "device.json"
            path.write_text(json.dumps(self.device_config(), indent=2))
            self._thread = threading.Thread(
                target=self._run_loop, args=(path,), name="kiosk-rig", daemon=True
            )
            self._thread.start()
            self._ready.result(timeout)
            self._wait_online(timeout)
        except BaseException:
            self.stop()
            raise
        (self.workdir / RIG_FILE).write_text(json.dumps(self.describe(), indent=2))
        log.info("kiosk_rig_started", extra=fields(api=self.api_url, control=self.control_url))
        return self

    def stop(self) -> None:
        """Stop the agent (up to 40 s), the simulators and the broker, and remove a work dir the
        rig made itself; safe to call twice.
        """
        loop = self._loop
        if loop is not None and self._stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(40.0)
            self._thread = None
        for sim in self.sims.values():
            closer = getattr(sim, "stop", None) or getattr(sim, "close", None)
            if closer is not None:
                closer()
        self.sims.clear()
        if self.broker is not None:
            self.broker.close()
            self.broker = None
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> KioskRig:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the parts -----------------------------------------------------------------------------

    def _start_sims(self) -> None:
        from sim.camera.live import LiveScene
        from sim.camera.mjpeg import MjpegCamera
        from sim.fingerprint import FingerprintSimulator
        from sim.idcard.deck import build_deck
        from sim.idcard.server import IdCardSimulator
        from sim.kiosk.people import PEOPLE, deck
        from sim.printer.server import PrinterSimulator

        cards = {**build_deck(), **deck()}
        self.sims["idcard"] = IdCardSimulator(card=None, deck=cards).start()
        self.sims["finger"] = FingerprintSimulator().start()
        self.sims["printer"] = PrinterSimulator().start()
        self.scene = LiveScene("nobody")
        for key in PEOPLE:  # render every pose now, not when the person first shows up
            self.scene.prepare(key)
        self.sims["camera"] = MjpegCamera(
            fps=self.settings.camera_fps, source=self.scene.frame
        ).start()

    def _start_broker(self) -> None:
        if self.settings.broker_url is not None:
            self.broker_url = self.settings.broker_url
            return
        from govedge.broker import BrokerError, MosquittoBroker

        try:
            self.broker = MosquittoBroker(workdir=self.workdir / "mosquitto")
            self.broker.workdir.mkdir(parents=True, exist_ok=True)
            self.broker.start()
            self.broker_url = self.broker.url
        except BrokerError as exc:
            log.warning("kiosk_rig_no_broker", extra=fields(reason=str(exc)))
            self.broker = None
            self.broker_url = DEAD_BROKER

    def device_config(self) -> dict[str, Any]:
        """The kiosk's device config for the simulators (like firmware_configs' hall-kiosk)."""
        s = self.settings
        session_s = s.look_timeout_s + s.challenge_timeout_s * s.challenges
        return {
            "device_id": s.device_id,
            "model": "hall-kiosk",
            "site": "sim-service-hall",
            "firmware": "sim-1",
            "state_dir": str(self.workdir / "state"),
            "broker": {"url": self.broker_url, "reconnect_min_s": 0.5, "reconnect_max_s": 5.0},
            "drivers": [
                {
                    "name": "idcard",
                    "kind": "idcard",
                    "url": self.sims["idcard"].url,
                    "poll_interval_s": s.card_poll_s,
                    "backoff_max_s": 2.0,
                    "options": {"simulated": True, "retry_delay": 0.02},
                },
                {
                    "name": "finger",
                    "kind": "fingerprint",
                    "url": self.sims["finger"].url,
                    "poll_interval_s": 5.0,
                    "backoff_max_s": 2.0,
                    "poll_timeout_s": s.finger_timeout_s + 10.0,
                    "options": {"finger_timeout": s.finger_timeout_s},
                },
                {
                    "name": "printer",
                    "kind": "printer",
                    "url": self.sims["printer"].url,
                    "poll_interval_s": 0.5,
                    "backoff_max_s": 2.0,
                },
                {
                    "name": "camera",
                    "kind": "camera",
                    "url": self.sims["camera"].url,
                    "poll_interval_s": 2.0,
                    "backoff_max_s": 2.0,
                    "poll_timeout_s": max(15.0, session_s + 5.0),
                    "options": {
                        "session_challenges": s.challenges,
                        "session_look_timeout_s": s.look_timeout_s,
                        "session_challenge_timeout_s": s.challenge_timeout_s,
                    },
                },
            ],
            "publish": {"health_interval_s": 30.0},
            "local_api": {
                "host": "127.0.0.1",
                "port": s.api_port,
                "token_file": str(self.token_file),
            },
        }

    def _run_loop(self, config_path: Path) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(config_path))
        except BaseException as exc:  # reported to start(); the thread must not die silently
            if not self._ready.done():
                self._ready.set_exception(RigError(f"the kiosk agent did not start: {exc}"))
            else:
                log.exception("kiosk_rig_failed")
        finally:
            loop.close()

    async def _main(self, config_path: Path) -> None:
        from edge_agent.runtime import build_agent
        from sim.kiosk.control import ControlServer

        self._stop = asyncio.Event()
        self.agent = await asyncio.to_thread(build_agent, config_path)
        task = asyncio.create_task(self.agent.run(self._stop))
        for _ in range(1000):
            api = self.agent.local_api
            if task.done() or (api is not None and api.runner is not None and api.url):
                break
            await asyncio.sleep(0.01)
        if task.done():
            task.result()  # raises the agent's start error
        watcher = asyncio.create_task(self.citizen.watch(self.agent))
        if self.settings.control_port >= 0:
            self.control = ControlServer(self.citizen, self.settings.control_port)
            await self.control.start()
        self._ready.set_result(None)
        try:
            await task
        finally:
            watcher.cancel()
            if self.control is not None:
                await self.control.stop()

    def _wait_online(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = {n: s.state.value for n, s in self.agent.supervisors.items()}
            if all(state in ("online", "user_error", "busy") for state in states.values()):
                return
            time.sleep(0.05)
        raise RigError(f"the kiosk's drivers did not come online: {states}")


def running_rig(**overrides: Any) -> Iterator[KioskRig]:
    """A started rig, stopped after use: pytest fixtures ``yield from`` it."""
    rig = KioskRig(**overrides).start()
    try:
        yield rig
    finally:
        rig.stop()
