"""The agent's side of an update: the ``update`` command, the install pipeline, the health
confirmation of a release in trial, and the reports to the hub.

The hub sends ``update`` with ``{"version", "url", "size", "manifest"}`` (the signed manifest of
the release bundle). The agent checks the manifest's signature against its release key before it
downloads a byte, acknowledges, then downloads (resuming), verifies every file into a new slot,
switches ``current`` and restarts; the launcher starts the new release in trial. The new release
confirms once its link is up and its drivers are online for ``confirm_after_s``; otherwise the
launcher rolls back. Outcomes reach the hub as events: ``update_succeeded`` and
``update_failed`` (with the reason), from whichever release runs afterwards.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_agent.update import faults
from edge_agent.update.download import download, fetch_manifest
from edge_agent.update.errors import UpdateError
from edge_agent.update.launcher import ENV_CONFIRM, ENV_KEY, ENV_ROOT, ENV_VERSION
from edge_agent.update.slots import Slots
from edge_agent.update.state import (
    BEFORE_SWITCH,
    CONFIRMED,
    DOWNLOADING,
    FAILED,
    INSTALLED,
    INSTALLING,
    ROLLED_BACK,
    SWITCHING,
    TRIAL,
    UpdateState,
)
from govedge.contract import CommandName, EventKind
from govedge.errors import GovedgeError
from govedge.health import HealthState
from govedge.logs import fields, get_logger
from provisioning.bundles import BundleVerifier
from provisioning.errors import ProvisioningError
from provisioning.releases import parse_manifest, release_verifier

if TYPE_CHECKING:
    from edge_agent.agent import Agent

log = get_logger(__name__)

CHECK_S = 0.5
UNHEALTHY = frozenset({HealthState.OFFLINE, HealthState.NO_DEVICE, HealthState.HARDWARE_ERROR})


class Updater:
    """Attached to an agent started by the launcher (``GOVEDGE_RELEASE_ROOT`` set)."""

    def __init__(self, agent: Agent, root: Path, key: Path, version: str, confirm_s: float) -> None:
        self.agent = agent
        self.slots = Slots(root)
        self.key = key
        self.version = version
        self.confirm_s = confirm_s
        self._verifier: BundleVerifier | None = None
        self._task: asyncio.Task[Any] | None = None

    @classmethod
    def from_env(cls, agent: Agent) -> Updater | None:
        """The updater of an agent the launcher started (GOVEDGE_RELEASE_ROOT and the other
        variables it sets), or None for an agent run directly."""
        root = os.environ.get(ENV_ROOT)
        if not root:
            return None
        return cls(
            agent,
            Path(root),
            Path(os.environ.get(ENV_KEY, "")),
            os.environ.get(ENV_VERSION, ""),
            float(os.environ.get(ENV_CONFIRM, "30")),
        )

    @property
    def verifier(self) -> BundleVerifier:
        """The release key's verifier, loaded on first use; UpdateError when the key cannot be
        read."""
        if self._verifier is None:
            try:
                self._verifier = release_verifier(self.key)
            except (ProvisioningError, OSError) as exc:
                raise UpdateError(f"release key {self.key}: {exc}") from None
        return self._verifier

    def attach(self) -> None:
        """Join the agent's extensions and take the ``update`` command."""
        self.agent.extensions.append(self)
        if self.agent.commands is not None:
            self.agent.commands.handlers[CommandName.UPDATE] = self.command

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume from the saved state: confirm a release in trial, continue an install cut short,
        or report an outcome the hub has not heard yet."""
        state = self.slots.state()
        if state.state == TRIAL and state.version == self.version:
            self._spawn(self._confirm(state))
        elif state.state in BEFORE_SWITCH:
            self._spawn(self._install(state))
        elif not state.reported:
            await self._report(state)

    async def stop(self) -> None:
        """Cancel the update task; the saved state holds what it had done, and the next start
        resumes from there."""
        if self._task is not None:
            self._task.cancel()

    def _spawn(self, coro: Any) -> None:
        self._task = asyncio.create_task(coro, name="update")

    # -- the command ------------------------------------------------------------------------

    async def command(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """The ``update`` command: check the signed manifest, save the state and start the
        install in the background; the answer says the state it is in.

        Raises UpdateError for missing arguments, a manifest the release key does not sign,
        a version mismatch, or another update in progress. The version that runs already
        answers ``running``; the one in progress answers its state."""
        version, url, manifest = args.get("version"), args.get("url"), args.get("manifest")
        manifest_url = args.get("manifest_url")
        if manifest is None and isinstance(manifest_url, str):
            manifest = await asyncio.to_thread(fetch_manifest, manifest_url)
        if (
            not isinstance(version, str)
            or not isinstance(url, str)
            or not isinstance(manifest, dict)
        ):
            raise UpdateError(
                "update needs args.version, args.url and args.manifest (or args.manifest_url)"
            )
        try:
            release = parse_manifest(manifest, self.verifier)
        except ProvisioningError as exc:
            raise UpdateError(f"release refused: {exc}") from None
        if release.version != version:
            raise UpdateError(f"signed manifest is for {release.version!r}, not {version!r}")
        if version == self.version:
            return {"version": version, "state": "running"}
        current = self.slots.state()
        if (
            current.state in (*BEFORE_SWITCH, SWITCHING, TRIAL)
            and self._task
            and not self._task.done()
        ):
            if current.version == version:
                return {"version": version, "state": current.state}
            raise UpdateError(f"an update to {current.version} is in progress ({current.state})")
        size = args.get("size")
        state = UpdateState(
            state=DOWNLOADING,
            version=version,
            previous=self.version,
            url=url,
            manifest=dict(manifest),
            reported=False,
            size=size if isinstance(size, int) and size > 0 else 0,
        )
        self.slots.prepare()
        self.slots.save(state)
        log.info("update_accepted", extra=fields(version=version, running=self.version))
        self._spawn(self._install(state))
        return {"version": version, "state": DOWNLOADING}

    # -- the pipeline -----------------------------------------------------------------------

    async def _install(self, state: UpdateState) -> None:
        try:
            await asyncio.to_thread(self._install_blocking, state)
        except UpdateError as exc:
            state.state, state.reason, state.reported = FAILED, str(exc), False
            self.slots.save(state)
            log.warning("update_failed", extra=fields(version=state.version, reason=str(exc)))
            await self._report(state)
            return
        log.info("update_switched", extra=fields(version=state.version, previous=state.previous))
        os.kill(os.getpid(), signal.SIGTERM)  # the launcher starts the new release

    def _install_blocking(self, state: UpdateState) -> None:
        slots = self.slots
        bundle = slots.downloads / f"{state.version}.tar"
        try:
            release = parse_manifest(state.manifest, self.verifier)
        except ProvisioningError as exc:
            raise UpdateError(f"release refused: {exc}") from None
        if state.state == DOWNLOADING:
            size = state.size or None
            cut = {"done": False}

            def on_chunk(have: int) -> None:
                if not cut["done"] and size and have >= size // 2:
                    cut["done"] = True
                    faults.cut("download")

            download(state.url, bundle, size, on_chunk)
            faults.cut("downloaded")
            state.state = INSTALLING
            slots.save(state)
        if state.state == INSTALLING:
            if faults.ENV in os.environ and os.environ[faults.ENV] == "installing":
                self._half_install(bundle)
            try:
                installed = slots.install(bundle, self.verifier, state.version)
            except UpdateError:
                bundle.unlink(missing_ok=True)  # a bad download is fetched again next time
                raise
            if installed.files != release.files:
                raise UpdateError("bundle's manifest differs from the one the hub sent")
            state.state = INSTALLED
            slots.save(state)
            faults.cut("installed")
        if state.state == INSTALLED:
            state.state, state.previous = SWITCHING, self.version
            slots.save(state)
            faults.cut("switching")
            slots.switch(state.version)
            state.state, state.attempts = TRIAL, 0
            slots.save(state)
            faults.cut("switched")

    def _half_install(self, bundle: Path) -> None:
        """Power cut in the middle of writing the slot (see faults)."""
        from provisioning.releases import read_manifest

        release = read_manifest(bundle, self.verifier)
        partial = self.slots.slots / f"{release.version}.partial"
        partial.mkdir(parents=True, exist_ok=True)
        for i, rel in enumerate(release.files):
            if i >= max(1, len(release.files) // 2):
                break
            (partial / rel).parent.mkdir(parents=True, exist_ok=True)
            (partial / rel).write_bytes(b"half")
        faults.cut("installing")

    # -- trial ------------------------------------------------------------------------------

    def healthy(self) -> bool:
        """Connected to the broker, and no driver offline, missing or faulty. A driver waiting
        for a person (no card, paper out) or busy with one is healthy: the release works."""
        agent = self.agent
        return agent.link.connected and not any(s in UNHEALTHY for s in agent.states().values())

    async def _confirm(self, state: UpdateState) -> None:
        faults.cut("trial")
        since: float | None = None
        while True:
            await asyncio.sleep(CHECK_S)
            if not self.healthy():
                since = None
                continue
            since = since or time.monotonic()
            if time.monotonic() - since >= self.confirm_s:
                break
        fresh = self.slots.state()
        if fresh.state != TRIAL or fresh.version != self.version:
            return
        fresh.state, fresh.reason, fresh.reported = CONFIRMED, "", False
        self.slots.save(fresh)
        log.info("update_confirmed", extra=fields(version=self.version, previous=fresh.previous))
        self.slots.cleanup({self.version, fresh.previous})
        await self._report(fresh)

    async def _report(self, state: UpdateState) -> None:
        m = self.agent.messages
        attrs: dict[str, str | float | bool | None] = {
            "version": state.version,
            "running": self.version,
            "previous": state.previous,
        }
        if state.state == CONFIRMED:
            healthy = f"release {state.version} is healthy"
            item = m.event(EventKind.UPDATE_SUCCEEDED, "info", healthy, attrs)
        elif state.state in (ROLLED_BACK, FAILED):
            rolled_back = state.state == ROLLED_BACK
            kind = EventKind.UPDATE_ROLLED_BACK if rolled_back else EventKind.UPDATE_FAILED
            item = m.event(kind, "warning", state.reason[:500], attrs)
        else:
            return
        try:
            await self.agent.produce([item])
        except GovedgeError as exc:
            log.error("update_report_not_queued", extra=fields(error=str(exc)))
            return
        state.reported = True
        self.slots.save(state)
