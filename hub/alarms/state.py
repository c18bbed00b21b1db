"""Rule evaluation state in the shared database, so that every hub worker decides alike.

One ``rule_state`` row per (device, rule) holds what the rule remembers between messages (an
:class:`EvalState`), the rule revision it was built under and the newest message it judged.
An evaluation takes its rows in one transaction: it inserts the missing ones and locks them
all (on PostgreSQL one upsert that locks and returns every row; on SQLite the insert takes
the database's write lock), in (device, rule) order so that two
workers cannot deadlock; reads them; decides; writes
the alarm changes and the rows back; commits. A message older than the newest judged for its
(device, rule) is not judged again, whichever worker it reached: a copy that reached a second
worker, or a reading overtaken by a later one, cannot move an alarm back.

The alarms table is the truth about which alarm is active: the rows are read together with the
active alarms of their keys, and a row whose alarm was cleared elsewhere (by an operator) or
raised under another revision of the rule is brought into line as it is read.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as sa_postgresql
from sqlalchemy.engine import Connection

from hub.alarms.rules import RANK, Rule
from hub.alarms.store import active_key
from hub.alarms.tables import alarms, rule_state
from hub.db import sqlite_json_batch

Key = tuple[str, str]  # (device id, rule id)

_ENCODE = msgspec.json.Encoder()
_DECODE = msgspec.json.Decoder()

# SQLite: insert the missing rows of a JSON array of [device, rule] and return every row with
# the severity of its active alarm (see ``lock``; the key as ``store.active_key`` makes it);
# ``DO UPDATE`` so that existing rows are returned too.
_SQLITE_LOCK = (
    "INSERT INTO rule_state (device_id, rule_id, rev, boot_id, seq, armed, state) "
    "SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), '', '', -1, 0, '' "
    "FROM json_each(?) AS j WHERE true "
    "ON CONFLICT (device_id, rule_id) DO UPDATE SET rev = rev "
    "RETURNING device_id, rule_id, rev, boot_id, seq, state, "
    "(SELECT a.severity FROM alarms AS a "
    "WHERE a.active_key = rule_state.device_id || ':' || rule_state.rule_id) AS active"
)
# SQLite: write back the rows of a JSON array of [device, rule, rev, boot, seq, armed, state].
_SQLITE_SAVE = (
    "UPDATE rule_state SET rev = json_extract(j.value, '$[2]'), "
    "boot_id = json_extract(j.value, '$[3]'), seq = json_extract(j.value, '$[4]'), "
    "armed = json_extract(j.value, '$[5]'), state = json_extract(j.value, '$[6]') "
    "FROM json_each(?) AS j WHERE rule_state.device_id = json_extract(j.value, '$[0]') "
    "AND rule_state.rule_id = json_extract(j.value, '$[1]')"
)


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

    def encode(self) -> str:
        """The state as JSON text (the row's ``state``)."""
        return _ENCODE.encode(
            {
                "on": self.on,
                "since": {str(k): v for k, v in self.since.items()},
                "value": self.value,
                "samples": list(self.samples),
                "last_seen": self.last_seen,
                "true_at": {str(k): v for k, v in self.true_at.items()},
                "down_since": self.down_since,
                "severity": self.severity,
                "event_value": self.event_value,
                "event_at": self.event_at,
                "suppressed": self.suppressed,
            }
        ).decode()

    @classmethod
    def decode(cls, text: str, levels: int) -> EvalState:
        """A state from its JSON text; a fresh one (``levels`` levels off) for an empty row."""
        if not text:
            return cls(on=[False] * levels)
        d: dict[str, Any] = _DECODE.decode(text)
        return cls(
            on=list(d["on"]),
            since={int(k): v for k, v in d["since"].items()},
            value=d["value"],
            samples=deque((t, v) for t, v in d["samples"]),
            last_seen=d["last_seen"],
            true_at={int(k): v for k, v in d["true_at"].items()},
            down_since=d["down_since"],
            severity=d["severity"],
            event_value=d["event_value"],
            event_at=d["event_at"],
            suppressed=d["suppressed"],
        )


def armed(rule: Rule, st: EvalState) -> bool:
    """Whether the periodic check must look at this state without a message: a level on for a
    sustained rule, an active alarm a window may end, a device going down."""
    if rule.kind in ("threshold", "rate"):
        return rule.for_s > 0 and any(st.on)
    if rule.kind == "composite":
        return st.severity is not None
    if rule.kind == "offline":
        return st.down_since is not None or st.severity is not None
    return False


_REVS: dict[int, tuple[Rule, str]] = {}


def rule_rev(rule: Rule) -> str:
    """A short fingerprint of the rule's definition: state built under another one is dropped."""
    hit = _REVS.get(id(rule))
    if hit is not None and hit[0] is rule:
        return hit[1]
    text = _ENCODE.encode({"d": rule.definition, "e": rule.enabled, "k": rule.kind})
    rev = hashlib.blake2b(text, digest_size=8).hexdigest()
    if len(_REVS) > 4096:  # rules reloaded many times: start again
        _REVS.clear()
    _REVS[id(rule)] = (rule, rev)
    return rev


@dataclass(slots=True)
class Held:
    """A locked row: its state, and the newest message judged (boot id, seq)."""

    state: EvalState
    boot_id: str
    seq: int

    def judged(self, boot_id: str, seq: int) -> bool:
        """Whether this message (or a later one of its boot) was judged already."""
        return boot_id == self.boot_id and seq <= self.seq


def restored(rule: Rule, severity: str, now: float) -> EvalState:
    """A fresh state for an alarm active at ``severity``: the levels up to it on, so that the
    hysteresis holds it until the value falls below its clear line."""
    st = EvalState(on=[False] * len(rule.levels), severity=severity, event_at=now)
    if rule.levels:
        st.on = [RANK[lv.severity] <= RANK[severity] for lv in rule.levels]
        st.since = {i: 0.0 for i, on in enumerate(st.on) if on}
    return st


def lock(
    conn: Connection, keys: Sequence[Key], rules: dict[str, Rule], now: float
) -> dict[Key, Held]:
    """Insert the missing rows of ``keys``, lock them all and read them (see the module)."""
    ordered = sorted(set(keys))
    if not ordered:
        return {}
    blank = {"rev": "", "boot_id": "", "seq": -1, "armed": False, "state": ""}
    values = [{"device_id": d, "rule_id": r, **blank} for d, r in ordered]
    if conn.dialect.name == "postgresql":
        # One statement inserts the missing rows, locks every row (in key order) and returns
        # it: the upsert waits for another worker's lock and returns the row as it committed.
        up = (
            sa_postgresql.insert(rule_state)
            .values(values)
            .on_conflict_do_update(
                index_elements=[rule_state.c.device_id, rule_state.c.rule_id],
                set_={"rev": rule_state.c.rev},
            )
            .returning(*rule_state.c)
        )
        rows = {(r.device_id, r.rule_id): r for r in conn.execute(up)}
        # The active alarms in a statement of their own, once the rows are locked: a statement
        # that began before another worker committed sees that worker's row but not the alarm
        # it raised (PostgreSQL reads each statement in one snapshot), and took it for cleared
        # by hand.
        active = _active(conn, ordered)
    else:
        # One statement: the insert takes SQLite's write lock before it reads anything (no
        # other writer until this one commits), and returns every row with its active alarm.
        # Each statement gives up the interpreter lock, and under a telemetry flood taking it
        # back costs an alarm a thread switch: three statements here cost a third of an
        # alarm's time in the hub.
        rows, active = {}, {}
        found = conn.exec_driver_sql(_SQLITE_LOCK, (_ENCODE.encode(ordered).decode(),))
        for r in found:
            rows[(r.device_id, r.rule_id)] = r
            if r.active is not None:
                active[(r.device_id, r.rule_id)] = r.active
    out: dict[Key, Held] = {}
    for key in ordered:
        row = rows[key]
        rule = rules[key[1]]
        fresh = row.rev != rule_rev(rule)
        st = EvalState.decode("" if fresh else row.state, len(rule.levels))
        severity = active.get(key)
        if severity is None and st.severity is not None:
            # Cleared elsewhere (by an operator) while the condition held: as if cleared by hand.
            st.suppressed, st.severity = st.severity, None
        elif severity is not None and st.severity is None:
            # Raised under another revision of the rule, or before the state was shared.
            st = restored(rule, severity, now)
        elif severity is not None:
            st.severity = severity
        out[key] = Held(st, "" if fresh else row.boot_id, -1 if fresh else int(row.seq))
    return out


def _active(conn: Connection, keys: Iterable[Key]) -> dict[Key, str]:
    by_key = {active_key(d, r): (d, r) for d, r in keys}
    rows = conn.execute(
        sa.select(alarms.c.active_key, alarms.c.severity).where(
            alarms.c.active_key.in_(sorted(by_key))
        )
    )
    return {by_key[r.active_key]: r.severity for r in rows}


def save(conn: Connection, held: dict[Key, Held], rules: dict[str, Rule]) -> None:
    """Write the locked rows back."""
    if not held:
        return
    rows = [
        (d, r, rule_rev(rules[r]), h.boot_id, h.seq, armed(rules[r], h.state), h.state.encode())
        for (d, r), h in held.items()
    ]
    if conn.dialect.name == "sqlite":
        sqlite_json_batch(conn, _SQLITE_SAVE, rows)  # one statement, as ``lock``
        return
    stmt = (
        rule_state.update()
        .where(
            rule_state.c.device_id == sa.bindparam("k_device"),
            rule_state.c.rule_id == sa.bindparam("k_rule"),
        )
        .values(
            rev=sa.bindparam("v_rev"),
            boot_id=sa.bindparam("v_boot"),
            seq=sa.bindparam("v_seq"),
            armed=sa.bindparam("v_armed"),
            state=sa.bindparam("v_state"),
        )
    )
    names = ("k_device", "k_rule", "v_rev", "v_boot", "v_seq", "v_armed", "v_state")
    conn.execute(stmt, [dict(zip(names, row, strict=True)) for row in rows])


def armed_keys(conn: Connection, rule_id: str) -> list[Key]:
    """The rule's rows the periodic check must look at (see :func:`armed`)."""
    rows = conn.execute(
        sa.select(rule_state.c.device_id).where(
            rule_state.c.rule_id == rule_id, rule_state.c.armed.is_(True)
        )
    )
    return [(r.device_id, rule_id) for r in rows]


def peek(conn: Connection, rule: Rule) -> dict[str, EvalState]:
    """Every device's state for a rule, unlocked: the periodic check's first look, to find the
    few devices whose state it must lock and judge."""
    rev = rule_rev(rule)
    rows = conn.execute(
        sa.select(rule_state.c.device_id, rule_state.c.rev, rule_state.c.state).where(
            rule_state.c.rule_id == rule.id
        )
    )
    return {
        r.device_id: EvalState.decode(r.state if r.rev == rev else "", len(rule.levels))
        for r in rows
    }


def forget_rule(conn: Connection, rule_id: str) -> None:
    """Drop a removed rule's rows."""
    conn.execute(rule_state.delete().where(rule_state.c.rule_id == rule_id))
