"""Releases and their staged rollouts.

A release rollout uses the stages of a config rollout (``check_steps`` and ``step_targets`` of
hub.device_configs: 10 %, 50 %, 100 % of the selected devices) and adds what code updates need:

- a health gate: a stage is done only when each of its devices has reported the new release
  healthy (``update_succeeded``) and has stayed online for ``health_gate_s`` since; a device that
  drops offline within the gate counts as failed;
- a halt: when failures pass ``max_failures`` no further device is sent the update;
- update windows per site: a device is sent the update only inside its site's window.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from govedge.contract import CommandName, Event, EventKind
from govedge.logs import fields
from hub.commands import CommandService
from hub.db import found, insert_new
from hub.device_configs import check_steps, step_targets
from hub.errors import NotFoundError, ValidationError
from hub.registry import Registry
from hub.releases.settings import ReleasesConfig
from hub.releases.tables import device_releases, release_rollouts, releases
from hub.releases.windows import in_window, parse_window
from provisioning.bundles import BundleVerifier
from provisioning.errors import ProvisioningError
from provisioning.releases import release_verifier, unpack_bundle

log = logging.getLogger("govedge.hub.releases")

SENT, UPDATED, FAILED = "sent", "updated", "failed"
RUNNING, HALTED, DONE = "running", "halted", "done"
SUCCEEDED_EVENTS = {EventKind.UPDATE_SUCCEEDED}
FAILED_EVENTS = {EventKind.UPDATE_FAILED, EventKind.UPDATE_ROLLED_BACK}


def is_report(ev: Event) -> bool:
    """Whether a device's event reports the outcome of an update."""
    return ev.data.kind in SUCCEEDED_EVENTS or ev.data.kind in FAILED_EVENTS


class ReleaseService:
    """Release bundles and their rollouts to devices, within each site's update window."""

    def __init__(
        self,
        engine: Engine,
        registry: Registry,
        commands: CommandService,
        config: ReleasesConfig,
        clock: Callable[[], dt.datetime] = dt.datetime.now,
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.commands = commands
        self.config = config
        self.directory = Path(config.directory)
        self.clock = clock
        self._lock = threading.Lock()
        for window in config.windows.values():
            parse_window(window)
        self._verifier: BundleVerifier | None = (
            release_verifier(*config.public_keys) if config.public_keys else None
        )

    # -- releases ---------------------------------------------------------------------------

    def bundle_path(self, version: str) -> Path:
        """The stored bundle of a release, for devices to download; NotFoundError if there is none
        (or the version would name a path outside the release directory)."""
        path = self.directory / f"{version}.tar"
        if "/" in version or not path.is_file():
            raise NotFoundError(f"no release {version!r}")
        return path

    def add(self, upload: Path) -> dict[str, Any]:
        """Verify an uploaded bundle completely and keep it; a bad bundle is a 400."""
        if self._verifier is None:
            raise ValidationError("the hub trusts no release key (releases.public_keys)")
        try:
            release = unpack_bundle(upload, self._verifier)
        except ProvisioningError as exc:
            raise ValidationError(str(exc)) from None
        self.directory.mkdir(parents=True, exist_ok=True)
        size = upload.stat().st_size
        with self.engine.begin() as conn:
            if conn.execute(
                sa.select(releases.c.version).where(releases.c.version == release.version)
            ).first():
                raise ValidationError(f"release {release.version} exists; versions are immutable")
            conn.execute(
                releases.insert().values(
                    version=release.version,
                    manifest=release.signed,
                    size=size,
                    files=len(release.files),
                    key_id=release.key_id,
                    created=time.time(),
                )
            )
            shutil.move(str(upload), self.directory / f"{release.version}.tar")
        log.info("release_added", extra=fields(version=release.version, size=size))
        return self.get(release.version)

    def upload_file(self) -> Path:
        """A new empty file in the release directory to stream an upload into; on the same
        filesystem, so ``add`` keeps it by a rename. The caller removes it if ``add`` fails."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.directory, suffix=".upload")
        import os

        os.close(fd)
        return Path(name)

    def get(self, version: str) -> dict[str, Any]:
        """A release's row, its signed manifest included; NotFoundError if there is none."""
        with self.engine.connect() as conn:
            row = found(conn, releases.c.version, version, "release")
        out = dict(row._mapping)
        return out

    def list(self) -> list[dict[str, Any]]:
        """The releases held, newest first, without their manifests."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    releases.c.version, releases.c.size, releases.c.files, releases.c.created
                ).order_by(releases.c.created.desc())
            ).all()
        return [dict(r._mapping) for r in rows]

    # -- rollouts ---------------------------------------------------------------------------

    def start_rollout(
        self,
        version: str,
        device_ids: Sequence[str],
        selector: Mapping[str, Any],
        steps: Sequence[float],
        max_failures: int,
        health_gate_s: float | None,
        base_url: str,
    ) -> dict[str, Any]:
        """Start a staged rollout of a release to the given devices and send the first stage.

        ``steps`` are the percentages of the devices each stage covers; ``health_gate_s`` None takes
        the configured gate. The devices download from ``base_url`` unless ``releases.public_url``
        is set. Raises NotFoundError for an unknown release, ValidationError when no device is
        selected."""
        self.get(version)
        if not device_ids:
            raise ValidationError("no device matches the selector")
        if max_failures < 0:
            raise ValidationError("max_failures must not be negative")
        now = time.time()
        rollout_id = uuid.uuid4().hex[:16]
        with self.engine.begin() as conn:
            conn.execute(
                release_rollouts.insert().values(
                    id=rollout_id,
                    version=version,
                    selector=dict(selector),
                    steps=check_steps(steps),
                    max_failures=max_failures,
                    health_gate_s=(
                        self.config.health_gate_s if health_gate_s is None else health_gate_s
                    ),
                    url=f"{(self.config.public_url or base_url).rstrip('/')}"
                    f"/api/v1/releases/{version}/bundle",
                    targets=sorted(device_ids),
                    step_index=0,
                    state=RUNNING,
                    reason="",
                    created=now,
                    updated=now,
                )
            )
        log.info("release_rollout_started", extra=fields(rollout=rollout_id, version=version))
        with self._lock:  # the periodic advance sees the new rollout too
            self._send_step(rollout_id)
        return self.rollout(rollout_id)

    def _send_step(self, rollout_id: str) -> None:
        ro = self.rollout(rollout_id)
        wanted = step_targets(ro["targets"], ro["steps"], ro["step_index"])
        have = {d["device_id"] for d in ro["devices"]}
        now = self.clock()
        fresh = [
            d
            for d in wanted
            if d not in have and in_window(self.registry.get(d).site, self.config.windows, now)
        ]
        if not fresh:
            return
        release = self.get(ro["version"])
        # The signed manifest is fetched by the device (a command must stay under the
        # contract's 64 KiB, and a release may list thousands of files).
        args = {
            "version": ro["version"],
            "url": ro["url"],
            "size": release["size"],
            "manifest_url": ro["url"].rsplit("/", 1)[0] + "/manifest",
        }
        stamp = time.time()
        with self.engine.begin() as conn:
            # Another worker advancing the same rollout may have sent some: each device is
            # sent its update once, by whoever recorded it first.
            fresh = insert_new(
                conn,
                device_releases,
                [
                    {
                        "rollout_id": rollout_id,
                        "device_id": d,
                        "version": ro["version"],
                        "state": SENT,
                        "error": "",
                        "updated": stamp,
                    }
                    for d in fresh
                ],
                device_releases.c.device_id,
            )
        if fresh:
            self.commands.create(fresh, CommandName.UPDATE, args, self.config.command_ttl_s)

    def on_events(self, events: Iterable[Event], conn: sa.Connection | None = None) -> int:
        """Record the outcome the devices report (update_succeeded / _failed / _rolled_back);
        return how many reports there were. ``conn``: within that transaction (the one that
        stores the ingest batch, ``Pipeline.writers``). A second copy changes nothing: only a
        device's ``sent`` row moves."""
        if conn is None:
            with self.engine.begin() as own:
                return self.on_events(events, own)
        reports = 0
        for ev in events:
            if not is_report(ev):
                continue
            kind = ev.data.kind
            reports += 1
            version = ev.data.attrs.get("version")
            state = UPDATED if kind in SUCCEEDED_EVENTS else FAILED
            conn.execute(
                device_releases.update()
                .where(
                    device_releases.c.device_id == ev.device_id,
                    device_releases.c.version == version,
                    device_releases.c.state == SENT,
                )
                .values(state=state, error=ev.data.message[:500], updated=ev.ts)
            )
            log.info(
                "release_reported",
                extra=fields(device=ev.device_id, version=str(version), state=state),
            )
        return reports

    def advance(self) -> None:
        """Move running rollouts on, or halt them: periodically, and as soon as reports come
        in (so a stage without a health gate moves on without waiting for the next tick)."""
        with self._lock:
            self._advance_all()

    def _advance_all(self) -> None:
        with self.engine.connect() as conn:
            running = [
                r[0]
                for r in conn.execute(
                    sa.select(release_rollouts.c.id).where(release_rollouts.c.state == RUNNING)
                )
            ]
        for rollout_id in running:
            self._advance(rollout_id)

    def _advance(self, rollout_id: str) -> None:
        ro = self.rollout(rollout_id)
        now = time.time()
        gate = float(ro["health_gate_s"])
        timeout = self.config.report_timeout_s
        for dev in ro["devices"]:  # the gate: updated devices must stay up for T
            if dev["state"] == UPDATED and not self.registry.get(dev["device_id"]).online:
                self._mark(rollout_id, dev["device_id"], FAILED, "offline within the health gate")
            elif dev["state"] == SENT and now - dev["updated"] > timeout:
                self._mark(rollout_id, dev["device_id"], FAILED, f"no report within {timeout:g} s")
        ro = self.rollout(rollout_id)
        progress = ro["progress"]
        if progress[FAILED] > ro["max_failures"]:
            reason = f"{progress[FAILED]} devices failed (limit {ro['max_failures']})"
            self._set_state(rollout_id, HALTED, reason)
            log.warning("release_rollout_halted", extra=fields(rollout=rollout_id, reason=reason))
            return
        wanted = step_targets(ro["targets"], ro["steps"], ro["step_index"])
        states = {d["device_id"]: d for d in ro["devices"]}
        if any(d not in states for d in wanted):
            self._send_step(rollout_id)  # devices outside their window get it when it opens
            return
        for d in wanted:
            dev = states[d]
            if dev["state"] == SENT or (dev["state"] == UPDATED and now - dev["updated"] < gate):
                return
        if ro["step_index"] + 1 >= len(ro["steps"]):
            self._set_state(rollout_id, DONE, "")
            log.info("release_rollout_done", extra=fields(rollout=rollout_id))
            return
        with self.engine.begin() as conn:
            conn.execute(
                release_rollouts.update()
                .where(release_rollouts.c.id == rollout_id)
                .values(step_index=ro["step_index"] + 1, updated=now)
            )
        self._send_step(rollout_id)

    def _mark(self, rollout_id: str, device_id: str, state: str, error: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                device_releases.update()
                .where(
                    device_releases.c.rollout_id == rollout_id,
                    device_releases.c.device_id == device_id,
                )
                .values(state=state, error=error, updated=time.time())
            )

    def _set_state(self, rollout_id: str, state: str, reason: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                release_rollouts.update()
                .where(release_rollouts.c.id == rollout_id)
                .values(state=state, reason=reason, updated=time.time())
            )

    def halted_count(self) -> int:
        """How many rollouts are halted by too many failures (a gauge for the metrics)."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).where(release_rollouts.c.state == HALTED)
                ).scalar()
                or 0
            )

    def rollout(self, rollout_id: str) -> dict[str, Any]:
        """A rollout with each device's state and progress counts (sent, updated, failed, total)."""
        with self.engine.connect() as conn:
            row = found(conn, release_rollouts.c.id, rollout_id, "release rollout")
            devs = conn.execute(
                sa.select(device_releases).where(device_releases.c.rollout_id == rollout_id)
            ).all()
        out = dict(row._mapping)
        out["devices"] = [dict(d._mapping) for d in devs]
        progress = {s: 0 for s in (SENT, UPDATED, FAILED)}
        for d in out["devices"]:
            progress[d["state"]] += 1
        progress["total"] = len(out["targets"])
        out["progress"] = progress
        return out
