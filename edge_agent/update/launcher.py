"""The launcher: the one piece that is not updated over the air. It runs the agent of the active
slot, and decides, before every start, whether the release in trial gets another start or is
rolled back. systemd runs it (``govedge-agent.service``); it restarts the agent itself too, so
a device without systemd (and the tests) behave the same.

Rollback happens when a release in trial
- exits (for any reason, with any code) before it has confirmed that it is healthy,
- has not confirmed within ``trial_timeout_s``, or
- was started more than ``MAX_TRIAL_STARTS`` times (power cuts during its trial).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from edge_agent.update.errors import UpdateError
from edge_agent.update.slots import AGENT_ENTRY, PARTIAL, Slots
from edge_agent.update.state import ROLLED_BACK, SWITCHING, TRIAL, UpdateState
from govedge.logs import fields, get_logger

log = get_logger(__name__)

MAX_TRIAL_STARTS = 3
RESTART_DELAY_S = 0.5
ENV_ROOT = "GOVEDGE_RELEASE_ROOT"
ENV_KEY = "GOVEDGE_RELEASE_KEY"
ENV_VERSION = "GOVEDGE_RELEASE_VERSION"
ENV_CONFIRM = "GOVEDGE_UPDATE_CONFIRM_S"


@dataclass(slots=True)
class LaunchSettings:
    """Where the launcher finds releases, the config and the release key, and its timings."""

    root: Path
    config: Path
    release_key: Path
    trial_timeout_s: float = 300.0
    confirm_after_s: float = 30.0
    extra_args: tuple[str, ...] = ()


def rollback(slots: Slots, state: UpdateState, reason: str) -> UpdateState:
    """Point ``current`` back at the previous release and record why."""
    if state.previous and slots.slot(state.previous).is_dir():
        slots.switch(state.previous)
    state.state, state.reason, state.reported = ROLLED_BACK, reason, False
    slots.save(state)
    log.warning(
        "update_rolled_back",
        extra=fields(version=state.version, previous=state.previous, reason=reason),
    )
    return state


def recover(slots: Slots) -> UpdateState:
    """Bring the slots to a state the agent can start from, whatever step was cut short."""
    slots.prepare()
    tmp = slots.root / "current.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    for partial in slots.slots.glob("*" + PARTIAL):
        import shutil

        shutil.rmtree(partial, ignore_errors=True)
    state = slots.state()
    if state.state == SWITCHING:  # the new slot is complete and verified: finish the switch
        if slots.current_version() != state.version:
            slots.switch(state.version)
        state.state, state.attempts = TRIAL, 0
        slots.save(state)
    if state.state == TRIAL:
        if slots.current_version() != state.version:  # a rollback was cut short
            return rollback(slots, state, "the switch back was interrupted")
        state.attempts += 1
        if state.attempts > MAX_TRIAL_STARTS:
            return rollback(
                slots,
                state,
                f"release {state.version} started {MAX_TRIAL_STARTS} times unconfirmed",
            )
        slots.save(state)
    if not slots.current_version():
        if state.previous and slots.slot(state.previous).is_dir():
            slots.switch(state.previous)
        else:
            raise UpdateError(f"{slots.root}: no active release (install one first)")
    return state


class Launcher:
    """Runs the current release's agent, and rolls back a trial that does not confirm."""

    def __init__(self, settings: LaunchSettings) -> None:
        self.settings = settings
        self.slots = Slots(settings.root)
        self._stop = threading.Event()
        self._child: subprocess.Popen[bytes] | None = None

    def stop(self, *_: object) -> None:
        """End the launcher (also its SIGTERM/SIGINT handler): the running agent gets SIGTERM
        and is not started again."""
        self._stop.set()
        child = self._child
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    def _env(self, version: str) -> dict[str, str]:
        s = self.settings
        env = dict(os.environ)
        env[ENV_ROOT] = str(s.root)
        env[ENV_KEY] = str(s.release_key)
        env[ENV_VERSION] = version
        env[ENV_CONFIRM] = str(s.confirm_after_s)
        return env

    def run_once(self) -> int:
        """Recover, start the active release, wait for it; return its exit code."""
        state = recover(self.slots)
        version = self.slots.current_version()
        entry = self.slots.slot(version) / AGENT_ENTRY
        in_trial = state.state == TRIAL and state.version == version
        log.info("agent_launch", extra=fields(version=version, trial=in_trial))
        try:
            self._child = subprocess.Popen(  # noqa: S603 - the release's own entry point, verified before launch; no shell
                [str(entry), "--config", str(self.settings.config), *self.settings.extra_args],
                env=self._env(version),
            )
        except OSError as exc:
            if in_trial:
                rollback(self.slots, state, f"release {version} cannot start: {exc.strerror}")
                return 1
            raise UpdateError(f"{entry}: cannot start the agent ({exc.strerror})") from None
        deadline = time.monotonic() + self.settings.trial_timeout_s
        code: int | None = None
        while code is None:
            try:
                code = self._child.wait(0.2)
            except subprocess.TimeoutExpired:
                if in_trial and time.monotonic() > deadline:
                    if self.slots.state().state == TRIAL:
                        self._child.kill()
                        self._child.wait()
                        rollback(
                            self.slots,
                            self.slots.state(),
                            f"release {version} not healthy within "
                            f"{self.settings.trial_timeout_s:.0f} s",
                        )
                        return -9
                    in_trial = False
        self._child = None
        now = self.slots.state()
        if now.state == TRIAL and now.version == version and not self._stop.is_set():
            rollback(
                self.slots, now, f"release {version} exited with code {code} before it was healthy"
            )
        return code

    def run(self) -> int:
        """Run the active release again and again (after RESTART_DELAY_S) until stopped; return
        the last agent's exit code.

        Installs the SIGTERM and SIGINT handlers, so it runs in the main thread."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        code = 0
        while not self._stop.is_set():
            code = self.run_once()
            if not self._stop.is_set():
                self._stop.wait(RESTART_DELAY_S)
        return code


def main(settings: LaunchSettings) -> int:
    """Run the launcher; 1 with a message on an update error."""
    try:
        return Launcher(settings).run()
    except UpdateError as exc:
        print(f"govedge agent launch: {exc}", file=sys.stderr)
        return 1
