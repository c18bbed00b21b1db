"""The rules engine: evaluates telemetry, births and deaths against the rules, and ticks.

It is a Pipeline evaluator (it runs in an ingest thread, before the telemetry is stored) with a
periodic ``tick`` for what no message announces: silence, a sustained condition coming due, an
offline device. Nothing that decides an alarm lives in a worker's memory: the evaluation state
per (device, rule) is in the database's ``rule_state`` rows (:mod:`hub.alarms.state`), locked,
read, decided on and written back in the same transaction as the alarm changes it leads to
(:mod:`hub.alarms.store`), so that N workers, each given a share of a device's messages, decide
as one would. The engine caches only the rules and the devices' facts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from govedge.contract import Message, Telemetry
from govedge.logs import fields
from hub.alarms import state
from hub.alarms.rules import RANK, Rule, parse_rule
from hub.alarms.state import EvalState, Held, Key
from hub.alarms.store import AlarmStore, Change
from hub.errors import NotFoundError
from hub.ingest.pipeline import Accepted
from hub.registry import DeviceInfo, Registry, Selector

log = logging.getLogger("govedge.hub.alarms")

DEVICE_TTL_S = 10.0
SCOPE_TTL_S = 2.0
ATTEMPTS = 3  # a transaction PostgreSQL aborted (deadlock, serialisation) is tried again


def reads(rule: Rule, data: dict[str, float]) -> bool:
    """Whether a reading carrying ``data`` is one the rule evaluates."""
    if rule.kind in ("threshold", "rate", "stuck"):
        return rule.metric in data
    if rule.kind == "absence":
        return not rule.metric or rule.metric in data
    if rule.kind == "composite":
        return any(c.metric in data for c in rule.conditions)
    return False  # offline: births and deaths


class AlarmEngine:
    """Rules in memory; evaluation state and alarms in the database (see the module)."""

    def __init__(self, store: AlarmStore, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self.rules: dict[str, Rule] = {}
        self.started = time.time()
        self.errors = 0
        self.changes: dict[str, int] = {}
        self._lock = threading.RLock()
        self._devices: dict[str, tuple[DeviceInfo | None, float]] = {}
        self._scope: dict[str, tuple[list[DeviceInfo], float]] = {}
        self._presence_changes = 0  # births and deaths evaluated: see _in_scope
        self._applicable: dict[str, tuple[DeviceInfo | None, dict[str, Rule], list[Rule]]] = {}
        """Per device: the rules that apply, for those device facts and that set of rules (the
        bulk lane's batches are mostly devices no rule reads: a lookup each, not a rule pass)."""
        self._version: tuple[int, float] = (-1, -1.0)
        self._conn: Connection | None = None  # the open evaluation's transaction
        self._changes: list[tuple[Change, str]] = []  # its alarm changes, sent once committed
        self.on_change: list[Callable[[Change], None]] = []
        """Called after each alarm change is committed (the feed sends it at once)."""
        self.serialise: Callable[[], AbstractContextManager[Any]] = nullcontext
        """Held around the writes the engine makes of its own (the periodic check, the hub's
        own alarms): the pipeline's ingest lock, so that they queue behind the ingest lanes'
        registry writes, alarm lane first, never on SQLite's busy handler (its sleeps, up to
        100 ms each, would land on an alarm); taken before the engine's lock, as ingestion does.
        """
        self.on_reload: list[Callable[[], None]] = []
        """Called after the rules changed (the alarm lane subscribes a new rule's devices at once,
        rather than at its next periodic sync)."""

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
            old = self.rules
            self.rules = loaded
            self._version = version
            self._scope.clear()
        active = self.store.active()
        for device_id, rule_id in active:
            if rule_id not in loaded:
                with self.serialise():
                    change = self.store.clear_active(
                        device_id, rule_id, by="rule removed or disabled"
                    )
                self._apply_change(change, rule_id)
        # A changed rule's rows are rebuilt as they are read (their revision differs).
        gone = [rule_id for rule_id in old if rule_id not in loaded]
        if gone:
            with self.serialise(), self.store.engine.begin() as conn:
                for rule_id in gone:
                    state.forget_rule(conn, rule_id)
        for hook in self.on_reload:
            try:
                hook()
            except Exception:  # the periodic sync tries again
                log.exception("rules_reload_hook_failed")

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

    def prepare(self, messages: Sequence[Message | None]) -> None:
        """Pipeline preparer: read the batch's devices whose facts are not cached, before the
        ingest lock (under it, these selects held both lanes for up to 20 ms under a flood)."""
        if self.rules:
            self._prefetch({m.device_id for m in messages if isinstance(m, Telemetry)})

    def on_batch(self, acc: Accepted, now: float | None = None) -> None:
        """Pipeline listener: evaluate a stored batch (``now``: the hub's time, for tests)."""
        if not self.rules:
            return
        # Registry reads before the engine's lock (``prepare`` did most before the ingest lock).
        self._prefetch({msg.device_id for msg in acc.telemetry})
        # A batch may hold a birth and a will of one device: the registry has the outcome, read
        # afresh in one query (thousands of devices come back at once after a district's link
        # or the hub itself was down; one query each held both lanes for a second).
        presence = list(dict.fromkeys(acc.births + acc.deaths))
        if presence:
            self._reload(presence)
        with self._lock:
            rules = self.rules
            # Which rules apply is worked out once per device of the batch: most devices of a
            # large batch are watched by no rule, and this runs under the ingest lock.
            applicable: dict[str, tuple[DeviceInfo | None, list[Rule]]] = {}
            work: list[tuple[Rule, DeviceInfo, Telemetry]] = []
            for msg in acc.telemetry:
                hit = applicable.get(msg.device_id)
                if hit is None:
                    dev = self.device(msg.device_id)
                    kept = self._applicable.get(msg.device_id)
                    if kept is not None and kept[0] is dev and kept[1] is rules:
                        found = kept[2]  # same device facts, same rules: same answer
                    else:
                        found = (
                            [r for r in rules.values() if r.applies_to(dev)]
                            if dev is not None
                            else []
                        )
                        self._applicable[msg.device_id] = (dev, rules, found)
                    hit = applicable[msg.device_id] = (dev, found)
                dev, found = hit
                if dev is None:
                    continue
                for rule in found:
                    if reads(rule, msg.data):
                        work.append((rule, dev, msg))
            births: list[tuple[Rule, DeviceInfo]] = []
            if presence:
                self._presence_changes += 1
                self._scope.clear()
                offline = [r for r in rules.values() if r.kind == "offline"]
                for device_id in presence:
                    dev = self.device(device_id)
                    if dev is not None:
                        births.extend((r, dev) for r in offline if r.applies_to(dev))
            if not work and not births:
                return
            keys = [(dev.id, rule.id) for rule, dev, _ in work]
            keys += [(dev.id, rule.id) for rule, dev in births]

            def judge(held: dict[Key, Held], now: float) -> None:
                for rule, dev, msg in work:
                    h = held[(dev.id, rule.id)]
                    if h.judged(msg.boot_id, msg.seq):
                        # A copy (it reached this worker or another one twice), or sent before
                        # a reading already judged (the alarm lane overtook the bulk lane, a
                        # gap filled late): it must not move an alarm back.
                        continue
                    h.boot_id, h.seq = msg.boot_id, msg.seq
                    self._guard(self._on_telemetry, rule, dev, h.state, msg.ts, msg.data, now)
                for rule, dev in births:
                    self._guard(self._on_presence, rule, dev, held[(dev.id, rule.id)].state, now)

            self._evaluate(keys, rules, now, judge)

    def _evaluate(
        self,
        keys: Sequence[Key],
        rules: dict[str, Rule],
        now: float | None,
        judge: Callable[[dict[Key, Held], float], None],
    ) -> None:
        """Lock the rows of ``keys``, let ``judge`` decide on their states, write the alarm
        changes and the rows back in one transaction; then announce the changes. Called under
        the engine's lock.

        ``now`` (the hub's time; None: the clock) is read once the rows are locked: the rows
        may hold times written by another worker while this one waited for them, and a time
        before those would take a level that just came on for one not on long enough."""
        for attempt in range(1, ATTEMPTS + 1):
            self._changes = []
            try:
                with self.store.engine.begin() as conn:
                    self._conn = conn
                    held = state.lock(conn, keys, rules, time.time() if now is None else now)
                    judge(held, time.time() if now is None else now)
                    state.save(conn, held, rules)
                break
            except DBAPIError as exc:
                self.errors += 1
                retry = attempt < ATTEMPTS
                log.warning(
                    "rule_evaluation_aborted",
                    extra=fields(error=type(exc.orig).__name__, keys=len(keys), retry=retry),
                )
                if not retry:
                    return
            finally:
                self._conn = None
        changes, self._changes = self._changes, []
        for change, rule_id in changes:
            self._apply_change(change, rule_id)

    def _guard(self, func: Any, *args: Any) -> None:
        try:
            func(*args)
        except Exception:  # one rule's failure must not stop the others
            self.errors += 1
            log.exception("rule_evaluation_failed")

    def _on_telemetry(
        self,
        rule: Rule,
        dev: DeviceInfo,
        st: EvalState,
        ts: float,
        data: dict[str, float],
        now: float,
    ) -> None:
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

    def _on_presence(self, rule: Rule, dev: DeviceInfo, st: EvalState, now: float) -> None:
        """A birth or a death, for an offline rule (the device's facts were just reloaded)."""
        if dev.online:
            if (
                st.down_since is not None
                and st.severity is None
                and now - st.down_since >= rule.for_s
            ):
                # Down for longer than the rule allows, back before a tick raised it (ticks run
                # once a second, later on a busy hub): still an alarm, cleared at once, so that
                # whether one is raised does not depend on the ticks.
                self._decide(rule, dev, st, rule.severity, None, now)
            st.down_since = None
            self._decide(rule, dev, st, None, None, now)
        else:
            st.down_since = st.down_since or now
            target = rule.severity if now - st.down_since >= rule.for_s else None
            self._decide(rule, dev, st, target, None, now)

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
            # max: a level another worker turned on a moment "after" now is on since now.
            if st.on[i] and max(0.0, now - st.since.get(i, now)) >= rule.for_s:
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
                change = self.store.clear_active(
                    dev.id, rule.id, "rule", value, self.place(dev), conn=self._conn
                )
                self._changed(change, rule.id)
            return
        if st.suppressed is not None:
            if RANK[target] <= RANK[st.suppressed]:
                return
            st.suppressed = None  # worse than what was cleared by hand: a new alarm
        message = self._message(rule, target, value)
        place = self.place(dev)
        if st.severity is None:
            change = self.store.raise_or_update(
                dev.id, rule.id, target, value, message, place, conn=self._conn
            )
        elif target != st.severity or self._update_due(rule, st, value, now):
            change = self.store.update_active(
                dev.id, rule.id, target, value, message, place, force_update=True, conn=self._conn
            )
            if not change.active:
                # Cleared by hand (or by another worker): hold off until the condition ends
                # or grows worse, rather than raise it again at once.
                st.suppressed, st.severity = st.severity, None
                if RANK[target] > RANK[st.suppressed]:
                    st.suppressed = None
                    change = self.store.raise_or_update(
                        dev.id, rule.id, target, value, message, place, conn=self._conn
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
        self._changed(change, rule.id)

    def _changed(self, change: Change, rule_id: str) -> None:
        """An alarm change made in the open evaluation: announced once it is committed."""
        if self._conn is None:
            self._apply_change(change, rule_id)
        else:
            self._changes.append((change, rule_id))

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
        given, now = now, time.time() if now is None else now
        try:
            self.reload()
        except Exception:
            self.errors += 1
            log.exception("rules_reload_failed")
            return
        for rule in list(self.rules.values()):
            # What to judge is found without locks (a city-wide scope is thousands of rows);
            # the judging holds the ingest lock, then the engine's, for one rule at a time.
            try:
                self._in_scope(rule)
                plan = self._tick_plan(rule, now)
            except Exception:  # one rule's failure must not stop the others
                self.errors += 1
                log.exception("rule_evaluation_failed")
                continue
            if plan is None:
                continue
            keys, judge = plan
            with self.serialise(), self._lock:
                if self.rules.get(rule.id) is rule:
                    self._guard(self._evaluate, keys, {rule.id: rule}, given, judge)

    def _tick_plan(
        self, rule: Rule, now: float
    ) -> tuple[list[Key], Callable[[dict[Key, Held], float], None]] | None:
        """One rule's periodic check at ``now``: the rows to lock and how to judge them, found
        by reads without locks; None if none needs judging. The judging takes its time from
        the rows once they are locked (see ``_evaluate``)."""
        if rule.kind in ("threshold", "rate", "composite"):
            if rule.kind != "composite" and rule.for_s <= 0:
                return None  # nothing comes due without a reading
            with self.store.engine.connect() as conn:
                keys = state.armed_keys(conn, rule.id)
            if not keys:
                return None
            return keys, lambda held, at: self._due(rule, held, at)
        if rule.kind not in ("absence", "offline"):
            return None
        with self.store.engine.connect() as conn:
            seen = state.peek(conn, rule)
        fresh = EvalState(on=[False] * len(rule.levels))  # read only: act is False
        judge = self._silent if rule.kind == "absence" else self._down
        devices = {
            dev.id: dev
            for dev in self._in_scope(rule)
            if judge(rule, dev, seen.get(dev.id, fresh), now)
        }
        if not devices:
            return None

        def decide(held: dict[Key, Held], at: float) -> None:
            # The devices' presence and last_seen afresh, read once their rows are locked:
            # the scope's copy is up to SCOPE_TTL_S old, and a worker that did not take a
            # device's will would take it for online and undo the down-since another
            # worker had just written.
            fresh = self.registry.select(Selector(ids=tuple(sorted(devices))))
            for dev in fresh:
                h = held.get((dev.id, rule.id))
                if h is not None:
                    self._guard(judge, rule, dev, h.state, at, True)

        return [(d, rule.id) for d in devices], decide

    def _due(self, rule: Rule, held: dict[Key, Held], now: float) -> None:
        """Sustained levels coming due, composite windows ending."""
        for (device_id, _rule_id), h in held.items():
            dev = self.device(device_id)
            st = h.state
            if dev is None:
                continue
            if rule.kind == "composite":
                if st.severity is not None:
                    target = self._composite(rule, st, now)
                    self._guard(self._decide, rule, dev, st, target, st.value, now)
            elif any(st.on):
                target = self._sustained(rule, st, now)
                self._guard(self._decide, rule, dev, st, target, st.value, now)

    def _silent(
        self, rule: Rule, dev: DeviceInfo, st: EvalState, now: float, act: bool = False
    ) -> bool:
        """Absence: whether the device's silence changes its alarm (and, with ``act``, change
        it)."""
        if dev.last_seen is None and st.last_seen is None and st.severity is None:
            return False  # never heard from: not yet installed
        last = st.last_seen
        if not rule.metric and dev.last_seen is not None:
            last = max(last or 0.0, dev.last_seen)  # shared by every worker
        baseline = max(last or 0.0, self.started)
        target = rule.severity if now - baseline > rule.silent_s else None
        if target == st.severity:
            return False
        if act:
            self._decide(rule, dev, st, target, None, now)
        return True

    def _down(
        self, rule: Rule, dev: DeviceInfo, st: EvalState, now: float, act: bool = False
    ) -> bool:
        """Offline: whether the device's presence changes its state (and, with ``act``, change
        it)."""
        if dev.last_seen is None:
            return False  # never seen: not yet installed
        if dev.online:
            if st.severity is None and st.down_since is None:
                return False
            if act:
                st.down_since = None
                self._decide(rule, dev, st, None, None, now)
            return True
        due = st.down_since is not None and now - st.down_since >= rule.for_s
        if st.down_since is not None and (not due or st.severity == rule.severity):
            return False
        if act:
            st.down_since = st.down_since or now
            if now - st.down_since >= rule.for_s:
                self._decide(rule, dev, st, rule.severity, None, now)
        return True

    # alarms the hub raises about itself ----------------------------------------------------

    def system_alarm(
        self, source: str, rule_id: str, severity: str | None, value: float | None, message: str
    ) -> str | None:
        """Raise, escalate or (``severity`` None) clear an alarm that no rule evaluates: one the
        hub raises about itself (``source`` stands where a device id would). Returns the change
        kind ('raised', 'escalated', 'updated', 'cleared') or None when nothing changed."""
        with self.serialise(), self._lock:
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
