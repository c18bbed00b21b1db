"""The rules engine: evaluates telemetry, births and deaths against the rules, and ticks.

It is a Pipeline evaluator (it runs in an ingest thread, before the telemetry is stored) with a
periodic ``tick`` for what no message announces: silence, a sustained condition coming due, an
offline device. Evaluation state per (device, rule) lives here, in memory; the alarms
themselves live in the database (see :mod:`hub.alarms.store`), which settles every race.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from govedge.logs import fields
from hub.alarms.rules import RANK, Rule, parse_rule
from hub.alarms.store import AlarmStore, Change
from hub.errors import NotFoundError
from hub.ingest.pipeline import Accepted
from hub.registry import DeviceInfo, Registry, Selector

log = logging.getLogger("govedge.hub.alarms")

DEVICE_TTL_S = 10.0
SCOPE_TTL_S = 2.0
SYNC_S = 5.0


@dataclass(slots=True)
class EvalState:
    """What one rule remembers about one device between messages."""

    on: list[bool] = field(default_factory=list)  # per level, with hysteresis
    since: dict[int, float] = field(default_factory=dict)  # level -> hub time it came on
    value: float | None = None  # the last evaluated value
    samples: deque[tuple[float, float]] = field(default_factory=deque)  # rate: (ts, value)
    last_seen: float | None = None  # absence: last data (hub time)
    true_at: dict[int, float] = field(default_factory=dict)  # composite: condition -> last true
    down_since: float | None = None  # offline: when it was first seen offline
    # The alarm as last written: severity, value and time of the last event, or None.
    severity: str | None = None
    event_value: float | None = None
    event_at: float = 0.0
    # Cleared by hand while the condition held, at this severity: wait until it ends.
    suppressed: str | None = None


class AlarmEngine:
    """Rules in memory, evaluation state per (device, rule), lifecycle through the store."""

    def __init__(self, store: AlarmStore, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self.rules: dict[str, Rule] = {}
        self.states: dict[tuple[str, str], EvalState] = {}
        self.started = time.time()
        self.errors = 0
        self.changes: dict[str, int] = {}
        self._lock = threading.RLock()
        self._devices: dict[str, tuple[DeviceInfo | None, float]] = {}
        self._newest: dict[str, tuple[str, int]] = {}  # device -> (boot id, seq) last judged
        self._scope: dict[str, tuple[list[DeviceInfo], float]] = {}
        self._presence_changes = 0  # births and deaths evaluated: see _in_scope
        self._applicable: dict[str, tuple[DeviceInfo | None, dict[str, Rule], list[Rule]]] = {}
        """Per device: the rules that apply, for those device facts and that set of rules (the
        bulk lane's batches are mostly devices no rule reads: a lookup each, not a rule pass)."""
        self._version: tuple[int, float] = (-1, -1.0)
        self._synced = time.monotonic()
        self.on_change: list[Callable[[Change], None]] = []
        """Called after each alarm change is committed (the feed sends it at once)."""

    # rules ----------------------------------------------------------------------------------

    def reload(self, force: bool = False) -> None:
        """Reload rules from the database if they changed (any worker may have changed them)."""
        version = self.store.rules_version()
        if version == self._version and not force:
            return
        loaded: dict[str, Rule] = {}
        for row in self.store.rule_rows():
            try:
                rule = parse_rule({**row["definition"], "enabled": row["enabled"]}, row["id"])
            except Exception as exc:  # noqa: BLE001 - a bad row must not stop the others
                log.error("rule_invalid", extra=fields(rule=row["id"], error=str(exc)))
                continue
            if rule.enabled:
                loaded[rule.id] = rule
        with self._lock:
            active = self.store.active()
            old = self.rules
            self.rules = loaded
            self._version = version
            self._scope.clear()
            for key in list(self.states):
                rule_id = key[1]
                if rule_id not in loaded or loaded[rule_id] != old.get(rule_id):
                    del self.states[key]
            # Alarms raised before (by this worker, another one, or an earlier run) are known.
            for (device_id, rule_id), (_alarm_id, severity) in active.items():
                if rule_id in loaded and (device_id, rule_id) not in self.states:
                    self.states[(device_id, rule_id)] = self._restored(loaded[rule_id], severity)
        for device_id, rule_id in active:
            if rule_id not in loaded:
                self._apply_change(
                    self.store.clear_active(device_id, rule_id, by="rule removed or disabled"),
                    rule_id,
                )

    @staticmethod
    def _restored(rule: Rule, severity: str) -> EvalState:
        st = EvalState(severity=severity, event_at=time.time())
        if rule.levels:
            st.on = [RANK[lv.severity] <= RANK[severity] for lv in rule.levels]
            st.since = {i: 0.0 for i, on in enumerate(st.on) if on}
        return st

    # devices --------------------------------------------------------------------------------

    def device(self, device_id: str) -> DeviceInfo | None:
        """The registry's view of a device, cached for DEVICE_TTL_S so evaluation does not query per
        message (a change of site or labels takes that long to count); None if not registered."""
        now = time.monotonic()
        hit = self._devices.get(device_id)
        if hit and now - hit[1] < DEVICE_TTL_S:
            return hit[0]
        try:
            info: DeviceInfo | None = self.registry.get(device_id)
        except NotFoundError:
            info = None
        self._devices[device_id] = (info, now)
        return info

    def _prefetch(self, device_ids: set[str]) -> None:
        """Load the batch's uncached devices in one query rather than one each."""
        now = time.monotonic()
        missing = [
            d
            for d in device_ids
            if now - self._devices.get(d, (None, -DEVICE_TTL_S))[1] >= DEVICE_TTL_S
        ]
        if len(missing) < 2:
            return
        found = {dev.id: dev for dev in self.registry.select(Selector(ids=tuple(sorted(missing))))}
        for d in missing:
            self._devices[d] = (found.get(d), now)

    def _reload(self, device_ids: list[str]) -> None:
        """Read these devices' facts afresh (their presence changed), in one query."""
        now = time.monotonic()
        found = {dev.id: dev for dev in self.registry.select(Selector(ids=tuple(device_ids)))}
        for d in device_ids:
            self._devices[d] = (found.get(d), now)

    def _in_scope(self, rule: Rule) -> list[DeviceInfo]:
        now = time.monotonic()
        hit = self._scope.get(rule.id)
        if hit and now - hit[1] < SCOPE_TTL_S:
            return hit[0]
        generation = self._presence_changes
        if rule.scope.is_empty():
            found, _ = self.registry.search(limit=10**9)
        else:
            found = self.registry.select(rule.scope)
        if self._presence_changes == generation:
            # Not kept if a birth or a death came meanwhile (the tick reads scopes outside the
            # lock): the devices' online flags may predate it, and the offline rule must not
            # take a device that just died for online.
            self._scope[rule.id] = (found, now)
        return found

    @staticmethod
    def place(dev: DeviceInfo | None) -> dict[str, Any]:
        """The alarm's place fields (site, model, location) from the device; empty for an unknown
        one."""
        if dev is None:
            return {"site": "", "model": "", "location": None}
        loc = None if dev.lat is None else {"lat": dev.lat, "lon": dev.lon}
        return {"site": dev.site, "model": dev.model, "location": loc}

    # the listener ---------------------------------------------------------------------------

    def on_batch(self, acc: Accepted, now: float | None = None) -> None:
        """Pipeline listener: evaluate a stored batch (``now``: the hub's time, for tests)."""
        if not self.rules:
            return
        now = time.time() if now is None else now
        # Registry reads before the lock: the tick and the other lane need not wait for them.
        self._prefetch({msg.device_id for msg in acc.telemetry})
        # A batch may hold a birth and a will of one device: the registry has the outcome, read
        # afresh in one query (thousands of devices come back at once after a district's link
        # or the hub itself was down; one query each held both lanes for a second).
        presence = list(dict.fromkeys(acc.births + acc.deaths))
        if presence:
            self._reload(presence)
        with self._lock:
            rules = list(self.rules.values())
            # Which rules apply is worked out once per device of the batch: most devices of a
            # large batch are watched by no rule, and this runs under the ingest lock.
            applicable: dict[str, tuple[DeviceInfo | None, list[Rule]]] = {}
            newest = self._newest
            for msg in acc.telemetry:
                last = newest.get(msg.device_id)
                if last is not None and last[0] == msg.boot_id and msg.seq < last[1]:
                    # Sent before a reading already judged (the alarm lane overtook the bulk
                    # lane, or a gap filled late): it must not move an alarm back.
                    continue
                newest[msg.device_id] = (msg.boot_id, msg.seq)
                hit = applicable.get(msg.device_id)
                if hit is None:
                    dev = self.device(msg.device_id)
                    kept = self._applicable.get(msg.device_id)
                    if kept is not None and kept[0] is dev and kept[1] is self.rules:
                        found = kept[2]  # same device facts, same rules: same answer
                    else:
                        found = [r for r in rules if r.applies_to(dev)] if dev is not None else []
                        self._applicable[msg.device_id] = (dev, self.rules, found)
                    hit = applicable[msg.device_id] = (dev, found)
                dev, found = hit
                if dev is None:
                    continue
                for rule in found:
                    self._guard(self._on_telemetry, rule, dev, msg.ts, msg.data, now)
            if presence:
                self._presence_changes += 1
                self._scope.clear()
            for device_id in presence:
                self._on_presence(device_id, now)

    def _guard(self, func: Any, *args: Any) -> None:
        try:
            func(*args)
        except Exception:  # one rule's failure must not stop the others
            self.errors += 1
            log.exception("rule_evaluation_failed")

    def _state(self, dev: DeviceInfo, rule: Rule) -> EvalState:
        key = (dev.id, rule.id)
        st = self.states.get(key)
        if st is None:
            st = self.states[key] = EvalState(on=[False] * len(rule.levels))
        return st

    def _on_telemetry(
        self, rule: Rule, dev: DeviceInfo, ts: float, data: dict[str, float], now: float
    ) -> None:
        st = self._state(dev, rule)
        if rule.kind == "threshold":
            if rule.metric in data:
                value = float(data[rule.metric])
                self._levels(rule, st, value, now)
                self._decide(rule, dev, st, self._sustained(rule, st, now), value, now)
        elif rule.kind == "rate":
            if rule.metric in data:
                st.samples.append((ts, float(data[rule.metric])))
                while st.samples and ts - st.samples[0][0] > rule.window_s:
                    st.samples.popleft()
                (t0, v0), (t1, v1) = st.samples[0], st.samples[-1]
                if t1 > t0:
                    rate = (v1 - v0) / (t1 - t0) * rule.per_s
                    self._levels(rule, st, rate, now)
                    self._decide(rule, dev, st, self._sustained(rule, st, now), rate, now)
        elif rule.kind == "absence":
            if not rule.metric or rule.metric in data:
                st.last_seen = now
                self._decide(rule, dev, st, None, None, now)
        elif rule.kind == "stuck":
            if rule.metric in data:
                value = float(data[rule.metric])
                flat_since = st.since.get(0)
                if st.value is None or flat_since is None or abs(value - st.value) > rule.tolerance:
                    st.value, st.since[0] = value, now  # moved: a new flat stretch starts
                    target = None
                else:
                    target = rule.severity if now - flat_since >= rule.for_s else None
                self._decide(rule, dev, st, target, value, now)
        elif rule.kind == "composite":
            touched = False
            for i, cond in enumerate(rule.conditions):
                if cond.metric in data:
                    touched = True
                    st.value = float(data[cond.metric])
                    if cond.holds(st.value):
                        st.true_at[i] = now
            if touched:
                self._decide(rule, dev, st, self._composite(rule, st, now), st.value, now)

    def _on_presence(self, device_id: str, now: float) -> None:
        """A birth or a death (the device's facts were just reloaded by ``_reload``)."""
        dev = self.device(device_id)
        if dev is None:
            return
        online = dev.online
        for rule in list(self.rules.values()):
            if rule.kind == "offline" and rule.applies_to(dev):
                st = self._state(dev, rule)
                if online:
                    if (
                        st.down_since is not None
                        and st.severity is None
                        and now - st.down_since >= rule.for_s
                    ):
                        # Down for longer than the rule allows, back before a tick raised it
                        # (ticks run once a second, later on a busy hub): still an alarm, cleared
                        # at once, so that whether one is raised does not depend on the ticks.
                        self._guard(self._decide, rule, dev, st, rule.severity, None, now)
                    st.down_since = None
                    self._guard(self._decide, rule, dev, st, None, None, now)
                else:
                    st.down_since = st.down_since or now
                    target = rule.severity if now - st.down_since >= rule.for_s else None
                    self._guard(self._decide, rule, dev, st, target, None, now)

    # evaluation -----------------------------------------------------------------------------

    @staticmethod
    def _levels(rule: Rule, st: EvalState, value: float, now: float) -> None:
        if len(st.on) != len(rule.levels):
            st.on = [False] * len(rule.levels)
        st.value = value
        for i, lv in enumerate(rule.levels):
            if rule.above:
                on = value > lv.clear_at if st.on[i] else value > lv.raise_at
            else:
                on = value < lv.clear_at if st.on[i] else value < lv.raise_at
            st.on[i] = on
            if on:
                st.since.setdefault(i, now)
            else:
                st.since.pop(i, None)

    @staticmethod
    def _sustained(rule: Rule, st: EvalState, now: float) -> str | None:
        """The worst level that has been on for ``for_s``."""
        for i in range(len(rule.levels) - 1, -1, -1):
            if st.on[i] and now - st.since.get(i, now) >= rule.for_s:
                return rule.levels[i].severity
        return None

    @staticmethod
    def _composite(rule: Rule, st: EvalState, now: float) -> str | None:
        for i in range(len(rule.conditions)):
            at = st.true_at.get(i)
            if at is None or now - at > rule.window_s:
                return None
        return rule.severity

    def _message(self, rule: Rule, target: str | None, value: float | None) -> str:
        if rule.kind in ("threshold", "rate"):
            what = rule.metric if rule.kind == "threshold" else f"rate of {rule.metric}"
            level = next((lv for lv in rule.levels if lv.severity == target), None)
            side = "above" if rule.above else "below"
            limit = f" {side} {level.raise_at:g}" if level else ""
            return f"{rule.name}: {what} {value:g}{limit}" if value is not None else rule.name
        if rule.kind == "absence":
            return f"{rule.name}: no {rule.metric or 'data'} for {rule.silent_s:g} s"
        if rule.kind == "stuck":
            at = f" at {value:g}" if value is not None else ""
            return f"{rule.name}: {rule.metric} stuck{at} for {rule.for_s:g} s or more"
        if rule.kind == "offline":
            return f"{rule.name}: device offline"
        return f"{rule.name}: every condition within {rule.window_s:g} s"

    def _decide(
        self,
        rule: Rule,
        dev: DeviceInfo,
        st: EvalState,
        target: str | None,
        value: float | None,
        now: float,
    ) -> None:
        """Move the alarm to ``target`` (a severity, or None for no condition)."""
        if target is None:
            st.suppressed = None
            if st.severity is not None:
                st.severity = None
                change = self.store.clear_active(dev.id, rule.id, "rule", value, self.place(dev))
                self._apply_change(change, rule.id)
            return
        if st.suppressed is not None:
            if RANK[target] <= RANK[st.suppressed]:
                return
            st.suppressed = None  # worse than what was cleared by hand: a new alarm
        message = self._message(rule, target, value)
        place = self.place(dev)
        if st.severity is None:
            change = self.store.raise_or_update(dev.id, rule.id, target, value, message, place)
        elif target != st.severity or self._update_due(rule, st, value, now):
            change = self.store.update_active(
                dev.id, rule.id, target, value, message, place, force_update=True
            )
            if not change.active:
                # Cleared by hand (or by another worker): hold off until the condition ends
                # or grows worse, rather than raise it again at once.
                st.suppressed, st.severity = st.severity, None
                if RANK[target] > RANK[st.suppressed]:
                    st.suppressed = None
                    change = self.store.raise_or_update(
                        dev.id, rule.id, target, value, message, place
                    )
        else:
            return
        if change.kind is not None:
            st.severity = target
            st.event_value = value
            st.event_at = now
        elif change.active and st.severity is None:
            # Another worker raised it first, at this severity: it is ours to follow too.
            st.severity, st.event_value, st.event_at = target, value, now
        self._apply_change(change, rule.id)

    @staticmethod
    def _update_due(rule: Rule, st: EvalState, value: float | None, now: float) -> bool:
        """Throttle for 'updated': the value moved by update_step, or update_interval_s passed."""
        if value is None or value == st.event_value:
            return False
        step = rule.update_step
        if st.event_value is not None and step > 0 and abs(value - st.event_value) >= step:
            return True
        return rule.update_interval_s > 0 and now - st.event_at >= rule.update_interval_s

    def _apply_change(self, change: Change, rule_id: str) -> None:
        if change.kind is None or change.alarm is None:
            return
        self.changes[change.kind] = self.changes.get(change.kind, 0) + 1
        for hook in self.on_change:
            hook(change)
        a = change.alarm
        log.info(
            "alarm_" + change.kind,
            extra=fields(
                alarm=a["id"], device=a["device_id"], rule=rule_id, severity=a["severity"]
            ),
        )

    # periodic -------------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> None:
        """Silence, sustained conditions coming due, offline devices, composite windows."""
        now = time.time() if now is None else now
        try:
            self.reload()
        except Exception:
            self.errors += 1
            log.exception("rules_reload_failed")
            return
        if time.monotonic() - self._synced >= SYNC_S:
            self._guard(self.sync_active)
        for rule in list(self.rules.values()):
            # The rule's devices are read before the lock (a city-wide scope is thousands of
            # rows), and the lock is held for one rule at a time: an alarm lane's batch, which
            # needs it too, waits for one rule's tick at most.
            self._guard(self._in_scope, rule)
            with self._lock:
                if self.rules.get(rule.id) is rule:
                    self._guard(self._tick_rule, rule, now)

    def sync_active(self) -> None:
        """Align memory with the database: alarms other workers raised or someone cleared."""
        with self._lock:  # the snapshot too: this worker's own raises must not race it
            active = self.store.active()
            self._synced = time.monotonic()
            for (device_id, rule_id), (_id, severity) in active.items():
                rule = self.rules.get(rule_id)
                st = self.states.get((device_id, rule_id))
                if rule is None:
                    continue
                if st is None:
                    self.states[(device_id, rule_id)] = self._restored(rule, severity)
                elif st.severity is None:
                    st.severity, st.suppressed, st.event_at = severity, None, time.time()
            for key, st in self.states.items():
                if st.severity is not None and key not in active:
                    # Cleared elsewhere while the condition held here: as if cleared by hand.
                    st.suppressed, st.severity = st.severity, None

    def _tick_rule(self, rule: Rule, now: float) -> None:
        if rule.kind in ("threshold", "rate"):
            if rule.for_s <= 0:  # nothing comes due without a reading
                return
            for (device_id, rule_id), st in list(self.states.items()):
                if rule_id == rule.id and any(st.on):
                    dev = self.device(device_id)
                    if dev is not None:
                        self._decide(rule, dev, st, self._sustained(rule, st, now), st.value, now)
        elif rule.kind == "composite":
            for (device_id, rule_id), st in list(self.states.items()):
                if rule_id == rule.id and st.severity is not None:
                    dev = self.device(device_id)
                    if dev is not None:
                        self._decide(rule, dev, st, self._composite(rule, st, now), st.value, now)
        elif rule.kind == "absence":
            for dev in self._in_scope(rule):
                st = self._state(dev, rule)
                if dev.last_seen is None and st.last_seen is None and st.severity is None:
                    continue  # never heard from: not yet installed
                last = st.last_seen
                if not rule.metric and dev.last_seen is not None:
                    last = max(last or 0.0, dev.last_seen)  # shared by every worker
                baseline = max(last or 0.0, self.started)
                target = rule.severity if now - baseline > rule.silent_s else None
                if target is not None or st.severity is not None:
                    self._decide(rule, dev, st, target, None, now)
        elif rule.kind == "offline":
            for dev in self._in_scope(rule):
                if dev.last_seen is None:
                    continue  # never seen: not yet installed
                st = self._state(dev, rule)
                if dev.online:
                    if st.severity is not None or st.down_since is not None:
                        st.down_since = None
                        self._decide(rule, dev, st, None, None, now)
                    continue
                st.down_since = st.down_since or now
                if now - st.down_since >= rule.for_s:
                    self._decide(rule, dev, st, rule.severity, None, now)

    # alarms the hub raises about itself ----------------------------------------------------

    def system_alarm(
        self, source: str, rule_id: str, severity: str | None, value: float | None, message: str
    ) -> str | None:
        """Raise, escalate or (``severity`` None) clear an alarm that no rule evaluates: one the
        hub raises about itself (``source`` stands where a device id would). Returns the change
        kind ('raised', 'escalated', 'updated', 'cleared') or None when nothing changed."""
        with self._lock:
            if severity is None:
                change = self.store.clear_active(source, rule_id, "hub", value)
            else:
                change = self.store.raise_or_update(source, rule_id, severity, value, message, {})
            self._apply_change(change, rule_id)
        return change.kind

    # the alarm lane ---------------------------------------------------------------------------

    def watched_devices(self) -> set[str] | None:
        """Devices whose telemetry some rule reads (None: every device's, a rule without scope).

        The MQTT link subscribes to their telemetry on its alarm lane, so that their readings
        never wait behind the bulk of the telemetry.
        """
        out: set[str] = set()
        # Without the engine's lock: the alarm lane calls this between its batches, and the
        # scopes are cached snapshots anyway.
        for rule in list(self.rules.values()):
            if rule.kind == "offline":
                continue  # presence comes on the status channel, always in the lane
            if rule.scope.is_empty():
                return None
            out.update(dev.id for dev in self._in_scope(rule))
        return out

    # API helpers ----------------------------------------------------------------------------

    def forget_devices(self, device_ids: Iterable[str] = ()) -> None:
        """Drop cached device facts (after a registry change)."""
        with self._lock:
            if device_ids:
                for d in device_ids:
                    self._devices.pop(d, None)
            else:
                self._devices.clear()
            self._scope.clear()
