"""Desired configurations and staged rollouts.

The desired config of a device is published retained on its config/desired topic; the device
answers on config/reported with the version it runs or why it refused. A rollout sends a config
to a growing share of the selected devices (for example 10 %, 50 %, 100 %), moves on when every
device of a step has answered, and halts when failures pass its limit.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from govedge.contract import (
    Channel,
    ConfigDesired,
    ConfigDesiredData,
    ConfigReported,
    EnvelopeStamper,
    encode,
    topic,
)
from govedge.logs import fields
from hub.db import device_configs, found, rollouts
from hub.errors import ValidationError

log = logging.getLogger("govedge.hub.device_configs")

Publisher = Callable[[str, bytes, bool], bool]
Signer = Callable[[int, Mapping[str, Any]], str]

PENDING, APPLIED, FAILED = "pending", "applied", "failed"
RUNNING, HALTED, DONE = "running", "halted", "done"


def check_steps(steps: Sequence[float]) -> list[float]:
    """Increasing percentages in (0, 100], ending at 100 (added when missing); the stages of
    a config rollout and of a release rollout (hub.releases) alike."""
    if not steps or any(not 0 < s <= 100 for s in steps) or list(steps) != sorted(steps):
        raise ValidationError("steps must be increasing percentages in (0, 100]")
    return list(steps) if steps[-1] == 100 else [*steps, 100]


def step_targets(targets: Sequence[str], steps: Sequence[float], index: int) -> list[str]:
    """The devices a rollout covers once stage ``index`` is reached (at least one)."""
    count = max(1, math.ceil(len(targets) * steps[index] / 100))
    return list(targets[:count])


class ConfigService:
    """Devices' desired configs and the staged rollouts that set them."""

    def __init__(
        self,
        engine: Engine,
        publish: Publisher,
        root: str,
        hub_boot_id: str,
        next_seq: Callable[[], int],
        signer: Signer | None = None,
    ) -> None:
        self.engine = engine
        self.publish = publish
        self.root = root
        self.hub_boot_id = hub_boot_id
        self.stamper = EnvelopeStamper(None, hub_boot_id, next_seq=next_seq)
        self.signer = signer
        self._lock = threading.Lock()

    def _next_version(self, conn: sa.Connection, device_ids: Sequence[str]) -> int:
        current = conn.execute(
            sa.select(sa.func.max(device_configs.c.version)).where(
                device_configs.c.device_id.in_(list(device_ids))
            )
        ).scalar()
        return int(current or 0) + 1

    def set_desired(
        self,
        device_ids: Sequence[str],
        config: Mapping[str, Any],
        *,
        version: int | None = None,
        rollout_id: str = "",
    ) -> int:
        """Record and publish the desired config of each device; return its version."""
        if not device_ids:
            raise ValidationError("no device matches")
        now = time.time()
        with self.engine.begin() as conn:
            version = version or self._next_version(conn, device_ids)
            for device_id in device_ids:
                values = {
                    "version": version,
                    "config": dict(config),
                    "state": PENDING,
                    "error": "",
                    "rollout_id": rollout_id,
                    "updated": now,
                }
                if not conn.execute(
                    device_configs.update()
                    .where(device_configs.c.device_id == device_id)
                    .values(**values)
                ).rowcount:
                    conn.execute(device_configs.insert().values(device_id=device_id, **values))
        signature = self.signer(version, config) if self.signer else ""
        for device_id in device_ids:
            data = ConfigDesiredData(version=version, config=dict(config), signature=signature)
            msg = self.stamper.stamp(ConfigDesired, data, ts=now, to=device_id)
            self.publish(topic(device_id, Channel.CONFIG_DESIRED, self.root), encode(msg), True)
        return version

    def republish(self, device_ids: Iterable[str]) -> None:
        """Publish again the pending configs of devices that came back (the link may have
        been down when they were set)."""
        ids = list(device_ids)
        if not ids:
            return
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(device_configs).where(
                    device_configs.c.device_id.in_(ids), device_configs.c.state == PENDING
                )
            ).all()
        for row in rows:
            sig = self.signer(row.version, row.config) if self.signer else ""
            data = ConfigDesiredData(version=row.version, config=row.config, signature=sig)
            msg = self.stamper.stamp(ConfigDesired, data, to=row.device_id)
            self.publish(topic(row.device_id, Channel.CONFIG_DESIRED, self.root), encode(msg), True)

    def on_reports(
        self, reports: Iterable[ConfigReported], conn: sa.Connection | None = None
    ) -> list[tuple[str, int]]:
        """Record what devices report of their desired config (a report of another version is
        ignored); return (device, version) of each config reported applied. The same report
        twice changes nothing more. ``conn``: within that transaction (the ingest batch's)."""
        if conn is None:
            with self.engine.begin() as own:
                return self.on_reports(reports, own)
        applied: list[tuple[str, int]] = []
        now = time.time()
        for rep in reports:
            row = conn.execute(
                sa.select(device_configs.c.version).where(
                    device_configs.c.device_id == rep.device_id
                )
            ).first()
            if row is None or row.version != rep.data.version:
                continue
            conn.execute(
                device_configs.update()
                .where(device_configs.c.device_id == rep.device_id)
                .values(
                    state=APPLIED if rep.data.ok else FAILED,
                    error=rep.data.error,
                    updated=now,
                )
            )
            if rep.data.ok:
                applied.append((rep.device_id, rep.data.version))
        return applied

    def get(self, device_id: str) -> dict[str, Any]:
        """A device's desired config (version, config, state, error, rollout); NotFoundError if
        none."""
        with self.engine.connect() as conn:
            row = found(conn, device_configs.c.device_id, device_id, "desired config for device")
        return dict(row._mapping)

    # rollouts ----------------------------------------------------------------------------

    def start_rollout(
        self,
        device_ids: Sequence[str],
        selector: Mapping[str, Any],
        config: Mapping[str, Any],
        steps: Sequence[float],
        max_failures: int,
    ) -> dict[str, Any]:
        """Start a staged rollout of ``config`` to the devices and send its first stage; every
        device gets the same new version, above any it had. ValidationError when no device is
        selected or the steps are bad."""
        if not device_ids:
            raise ValidationError("no device matches the selector")
        steps = check_steps(steps)
        rollout_id = uuid.uuid4().hex[:16]
        now = time.time()
        with self.engine.begin() as conn:
            version = self._next_version(conn, device_ids)
            conn.execute(
                rollouts.insert().values(
                    id=rollout_id,
                    selector=dict(selector),
                    version=version,
                    config=dict(config),
                    steps=list(steps),
                    max_failures=max_failures,
                    state=RUNNING,
                    targets=list(device_ids),
                    step_index=0,
                    created=now,
                    updated=now,
                    reason="",
                )
            )
        self._send_step(rollout_id)
        return self.rollout(rollout_id)

    def _step_targets(self, targets: list[str], steps: list[float], index: int) -> list[str]:
        return step_targets(targets, steps, index)

    def _send_step(self, rollout_id: str) -> None:
        ro = self.rollout(rollout_id)
        wanted = self._step_targets(ro["targets"], ro["steps"], ro["step_index"])
        with self.engine.connect() as conn:
            have = {
                r[0]
                for r in conn.execute(
                    sa.select(device_configs.c.device_id).where(
                        device_configs.c.rollout_id == rollout_id
                    )
                )
            }
        fresh = [d for d in wanted if d not in have]
        if fresh:
            self.set_desired(fresh, ro["config"], version=ro["version"], rollout_id=rollout_id)

    def advance(self) -> None:
        """Move running rollouts forward or halt them; called periodically."""
        with self.engine.connect() as conn:
            running = [
                r[0]
                for r in conn.execute(sa.select(rollouts.c.id).where(rollouts.c.state == RUNNING))
            ]
        for rollout_id in running:
            ro = self.rollout(rollout_id)
            progress = ro["progress"]
            now = time.time()
            if progress[FAILED] > ro["max_failures"]:
                self._set_state(rollout_id, HALTED, f"{progress[FAILED]} devices failed")
                log.warning("rollout_halted", extra=fields(rollout=rollout_id, **progress))
                continue
            wanted = self._step_targets(ro["targets"], ro["steps"], ro["step_index"])
            if progress[PENDING] or progress[APPLIED] + progress[FAILED] < len(wanted):
                continue
            if ro["step_index"] + 1 >= len(ro["steps"]):
                self._set_state(rollout_id, DONE, "")
                continue
            with self.engine.begin() as conn:
                conn.execute(
                    rollouts.update()
                    .where(rollouts.c.id == rollout_id)
                    .values(step_index=ro["step_index"] + 1, updated=now)
                )
            self._send_step(rollout_id)

    def _set_state(self, rollout_id: str, state: str, reason: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                rollouts.update()
                .where(rollouts.c.id == rollout_id)
                .values(state=state, reason=reason, updated=time.time())
            )

    def rollout(self, rollout_id: str) -> dict[str, Any]:
        """A rollout with progress counts of its devices (pending, applied, failed, total)."""
        with self.engine.connect() as conn:
            row = found(conn, rollouts.c.id, rollout_id, "rollout")
            counts: dict[str, int] = {
                str(state): int(n)
                for state, n in conn.execute(
                    sa.select(device_configs.c.state, sa.func.count())
                    .where(device_configs.c.rollout_id == rollout_id)
                    .group_by(device_configs.c.state)
                )
            }
        out = dict(row._mapping)
        progress = {s: int(counts.get(s, 0)) for s in (PENDING, APPLIED, FAILED)}
        progress["total"] = len(out["targets"])
        out["progress"] = progress
        out["percent_done"] = round(
            100 * (progress[APPLIED] + progress[FAILED]) / max(1, len(out["targets"])), 1
        )
        return out
