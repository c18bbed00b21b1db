"""The device registry: who the devices are, where, and whether they are online.

Presence comes from the retained status messages (birth and last will, told apart by boot id)
and from a heartbeat timeout of 1.5 x the device's keepalive. Every change of state is kept in
``device_states``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from govedge.contract.topics import check_device_id
from hub.db import device_states, devices, found, sqlite_json_batch
from hub.errors import ValidationError

HEARTBEAT_FACTOR = 1.5
PRESENCE_REFRESH_S = 2.0
UNKNOWN_TTL_S = 1.0  # an id found unregistered is not looked up again for this long
MAX_UNKNOWN = 10_000
# last_seen only moves forward: another worker may have written a later time meanwhile.
_SQLITE_TOUCH = (
    "UPDATE devices SET last_seen = json_extract(j.value, '$[1]') FROM json_each(?) AS j "
    "WHERE devices.id = json_extract(j.value, '$[0]') "
    "AND (devices.last_seen IS NULL OR devices.last_seen < json_extract(j.value, '$[1]'))"
)
# PostgreSQL: one statement (an executemany of one UPDATE per device was a round trip each, and
# under load each gave the interpreter lock away: 11 ms a chunk of 25). The rows are locked in
# id order first, as everywhere else (``expire_silent``), so that two workers never deadlock.
_PG_TOUCH = sa.text(
    "WITH seen AS (SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:ts AS float8[])) "
    "AS s(id, ts)), "
    "locked AS (SELECT devices.id FROM devices JOIN seen ON devices.id = seen.id "
    "WHERE devices.last_seen IS NULL OR devices.last_seen < seen.ts "
    "ORDER BY devices.id FOR UPDATE OF devices) "
    "UPDATE devices SET last_seen = seen.ts FROM seen "
    "WHERE devices.id = seen.id AND devices.id IN (SELECT id FROM locked) "
    # Only forward: another worker may have written a later time meanwhile.
    "AND (devices.last_seen IS NULL OR devices.last_seen < seen.ts)"
)


@dataclass(slots=True)
class DeviceInfo:
    """One registered device as the API shows it."""

    id: str
    model: str = ""
    site: str = ""
    lat: float | None = None
    lon: float | None = None
    firmware: str = ""
    config_version: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    online: bool = False
    boot_id: str = ""
    keepalive: int = 60
    last_seen: float | None = None
    health: dict[str, Any] | None = None
    created: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of the device API; ``created`` is left out, ``lat``/``lon`` become
        ``location``."""
        return {
            "id": self.id,
            "model": self.model,
            "site": self.site,
            "location": None if self.lat is None else {"lat": self.lat, "lon": self.lon},
            "firmware": self.firmware,
            "config_version": self.config_version,
            "labels": self.labels,
            "online": self.online,
            "boot_id": self.boot_id,
            "keepalive": self.keepalive,
            "last_seen": self.last_seen,
            "health": self.health,
        }


def _row_to_info(row: Any) -> DeviceInfo:
    m = row._mapping
    return DeviceInfo(
        id=m["id"],
        model=m["model"],
        site=m["site"],
        lat=m["lat"],
        lon=m["lon"],
        firmware=m["firmware"],
        config_version=m["config_version"],
        labels=dict(m["labels"] or {}),
        online=bool(m["online"]),
        boot_id=m["boot_id"],
        keepalive=m["keepalive"],
        last_seen=m["last_seen"],
        health=m["health"],
        created=m["created"],
    )


@dataclass(frozen=True, slots=True)
class Selector:
    """Which devices a command, config or query addresses: ids, model, site, labels (ANDed)."""

    ids: tuple[str, ...] = ()
    model: str = ""
    site: str = ""
    labels: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Selector:
        """Parse a selector from an API request body.

        Raises ValidationError on an unknown key, a wrongly typed field or an empty selector (an
        empty one would address the whole fleet by accident)."""
        unknown = set(data) - {"ids", "model", "site", "labels"}
        if unknown:
            raise ValidationError(f"selector: unknown key {sorted(unknown)[0]!r}")
        ids = data.get("ids") or []
        labels = data.get("labels") or {}
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ValidationError("selector.ids must be a list of device ids")
        if not isinstance(labels, dict):
            raise ValidationError("selector.labels must be an object")
        sel = cls(
            tuple(ids),
            str(data.get("model") or ""),
            str(data.get("site") or ""),
            tuple(sorted((str(k), str(v)) for k, v in labels.items())),
        )
        if sel.is_empty():
            raise ValidationError("selector is empty: name ids, model, site or labels")
        return sel

    def is_empty(self) -> bool:
        """True when no field is set, i.e. the selector would match every device."""
        return not (self.ids or self.model or self.site or self.labels)

    def matches(self, dev: DeviceInfo) -> bool:
        """Whether ``dev`` satisfies every field that is set (ids, model, site and all labels)."""
        if self.ids and dev.id not in self.ids:
            return False
        if self.model and dev.model != self.model:
            return False
        if self.site and dev.site != self.site:
            return False
        return all(dev.labels.get(k) == v for k, v in self.labels)


def _left_by_will(conn: Connection, device_ids: list[str]) -> set[str]:
    """Of these offline devices, those whose last change was their will: traffic does not bring
    them back, only their next birth. A reading taken after a will was sent before it (a device
    reconnecting publishes its birth first); with several workers it may reach its worker after
    another worker applied the will, and it must not revive the device."""
    if not device_ids:
        return set()
    last = (
        sa.select(sa.func.max(device_states.c.id))
        .where(device_states.c.device_id.in_(device_ids))
        .group_by(device_states.c.device_id)
    )
    rows = conn.execute(
        sa.select(device_states.c.device_id).where(
            device_states.c.id.in_(last), device_states.c.reason == "will"
        )
    )
    return {r[0] for r in rows}


class Registry:
    """Registry operations; blocking (call from a worker thread in async code)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._known: set[str] = set()
        self._unknown: dict[str, float] = {}  # id -> monotonic time it was found unregistered
        self._lock = threading.Lock()
        self._online: set[str] = set()
        self._keepalive: dict[str, int] = {}
        self._written: dict[str, float] = {}
        self._presence_loaded = 0.0
        # Presence this worker changed itself, by change number: a reload that began before a
        # change must not undo it with the older rows it read.
        self._change_no = 0
        self._changed_at: dict[str, int] = {}
        self.reload_known()

    def online_count(self) -> int:
        """Devices this worker knows to be online (births, wills and heartbeats it has seen,
        and what other workers wrote, as of the last presence reload)."""
        with self._lock:
            return len(self._online)

    def reload_known(self) -> None:
        """Re-read the set of registered ids from the database (devices added by other workers)."""
        with self.engine.connect() as conn:
            ids = {r[0] for r in conn.execute(sa.select(devices.c.id))}
        with self._lock:
            self._known = ids

    def is_known(self, device_id: str) -> bool:
        """Whether the id is registered: from the in-memory set (no database query, cheap per
        message), and for an id missing from it, from the database by its primary key: another
        hub worker (its API, its auto-registration) may have registered the device since this
        one loaded the set, and a message it sent after that must not be rejected. Only messages
        that would otherwise be rejected pay for the query, and an id found unregistered is taken
        as such for UNKNOWN_TTL_S: a flood from unregistered (or forged) ids costs a query per id
        and second, not one per message (764 queries held an ingest lane for seconds on a busy
        machine), and a device registered by another worker is taken within that second."""
        if device_id in self._known:
            return True
        now = time.monotonic()
        found_unknown = self._unknown.get(device_id)
        if found_unknown is not None and now - found_unknown < UNKNOWN_TTL_S:
            return False
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(devices.c.id).where(devices.c.id == device_id)).first()
        with self._lock:
            if row is None:
                if len(self._unknown) >= MAX_UNKNOWN:
                    self._unknown.clear()
                self._unknown[device_id] = now
                return False
            self._known.add(device_id)
            self._unknown.pop(device_id, None)
        return True

    def register(
        self,
        device_id: str,
        *,
        model: str = "",
        site: str = "",
        lat: float | None = None,
        lon: float | None = None,
        labels: Mapping[str, str] | None = None,
        firmware: str = "",
    ) -> DeviceInfo:
        """Add a device or update its descriptive fields."""
        check_device_id(device_id)
        values = {
            "model": model,
            "site": site,
            "lat": lat,
            "lon": lon,
            "labels": dict(labels or {}),
            "firmware": firmware,
        }
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(devices.c.id).where(devices.c.id == device_id)).first()
            if exists:
                conn.execute(devices.update().where(devices.c.id == device_id).values(**values))
            else:
                conn.execute(devices.insert().values(id=device_id, created=time.time(), **values))
        with self._lock:
            self._known.add(device_id)
            self._unknown.pop(device_id, None)
        return self.get(device_id)

    def register_many(self, items: Iterable[Mapping[str, Any]]) -> int:
        """Register each item of an import (``id`` plus the descriptive fields, ``location`` or
        ``lat``/``lon``); return how many were registered. One transaction per device."""
        count = 0
        for item in items:
            data = dict(item)
            device_id = data.pop("id")
            location = data.pop("location", None) or {}
            self.register(
                device_id,
                model=data.get("model", ""),
                site=data.get("site", ""),
                lat=location.get("lat", data.get("lat")),
                lon=location.get("lon", data.get("lon")),
                labels=data.get("labels"),
                firmware=data.get("firmware", ""),
            )
            count += 1
        return count

    def get(self, device_id: str) -> DeviceInfo:
        """The device's current row; raises NotFoundError if it is not registered."""
        with self.engine.connect() as conn:
            row = found(conn, devices.c.id, device_id, "device")
        return _row_to_info(row)

    def search(
        self,
        *,
        site: str = "",
        model: str = "",
        online: bool | None = None,
        label: tuple[str, str] | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[DeviceInfo], int]:
        """A page of devices matching the filters, and the total number that match."""
        query = sa.select(devices)
        count = sa.select(sa.func.count()).select_from(devices)
        conds = []
        if site:
            conds.append(devices.c.site == site)
        if model:
            conds.append(devices.c.model == model)
        if online is not None:
            conds.append(devices.c.online == online)
        for cond in conds:
            query = query.where(cond)
            count = count.where(cond)
        with self.engine.connect() as conn:
            if label is None:
                total = int(conn.execute(count).scalar_one())
                rows = conn.execute(query.order_by(devices.c.id).offset(offset).limit(limit))
                return [_row_to_info(r) for r in rows], total
            # Labels are JSON; filter them here so SQLite and PostgreSQL behave alike.
            matched = [
                _row_to_info(r)
                for r in conn.execute(query.order_by(devices.c.id))
                if (r._mapping["labels"] or {}).get(label[0]) == label[1]
            ]
        return matched[offset : offset + limit], len(matched)

    def select(self, selector: Selector) -> list[DeviceInfo]:
        """The devices a selector addresses, in id order. Labels are matched in Python, not SQL, so
        SQLite and PostgreSQL behave alike."""
        query = sa.select(devices).order_by(devices.c.id)
        if selector.ids:
            query = query.where(devices.c.id.in_(selector.ids))
        if selector.model:
            query = query.where(devices.c.model == selector.model)
        if selector.site:
            query = query.where(devices.c.site == selector.site)
        with self.engine.connect() as conn:
            found = [_row_to_info(r) for r in conn.execute(query)]
        return [d for d in found if selector.matches(d)]

    # presence ------------------------------------------------------------------------------

    def apply_status(
        self, device_id: str, boot_id: str, online: bool, keepalive: int, ts: float, **desc: str
    ) -> bool | None:
        """Apply a birth or a will. Return the new online state, or None if it changed nothing.

        A will (offline) is stale, and ignored, when its boot id is not the device's current one
        (a newer boot has announced itself) or when it is stamped before the status applied last
        (a connection's birth carries its will's stamp, contract ``Status``): it is the will of
        an earlier connection, which workers of a shared group may take after the newer birth.
        """
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(devices.c.online, devices.c.boot_id, devices.c.status_ts)
                .where(devices.c.id == device_id)
                .with_for_update()
            ).first()
            if row is None:
                return None
            was_online, current_boot, status_ts = bool(row[0]), row[1], row[2]
            same_boot = boot_id == current_boot
            if not online and current_boot and not same_boot:
                return None
            if not online and same_boot and status_ts is not None and ts < status_ts:
                return None
            newest = max(ts, status_ts) if same_boot and status_ts is not None else ts
            values: dict[str, Any] = {"online": online, "boot_id": boot_id, "status_ts": newest}
            if online:
                values.update(keepalive=keepalive, last_seen=time.time())
                values.update({k: v for k, v in desc.items() if v})
            conn.execute(devices.update().where(devices.c.id == device_id).values(**values))
            changed = not (was_online == online and current_boot == boot_id)
            if changed:
                conn.execute(
                    device_states.insert().values(
                        device_id=device_id,
                        ts=ts,
                        online=online,
                        boot_id=boot_id,
                        reason="birth" if online else "will",
                    )
                )
        with self._lock:  # after the commit, so that a reload that reads the row sees it
            self._mark(device_id, online)
            if online:
                self._keepalive[device_id] = keepalive
                self._written[device_id] = values["last_seen"]
        return online if changed else None

    def _mark(self, device_id: str, online: bool) -> None:
        """Set a device's presence in memory, as a change of this worker's (under the lock)."""
        if online:
            self._online.add(device_id)
        else:
            self._online.discard(device_id)
        self._change_no += 1
        self._changed_at[device_id] = self._change_no

    def _refresh_presence(self, now: float) -> None:
        """Reload which devices are online and their keepalives (other workers change them)."""
        self._apply_presence(*self._read_presence(), now)

    def _read_presence(self) -> tuple[list[Any], int]:
        """Read every device's presence, with the number of this worker's last change before
        the read."""
        with self._lock:
            started = self._change_no
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(devices.c.id, devices.c.online, devices.c.keepalive, devices.c.last_seen)
            ).all()
        return list(rows), started

    def _apply_presence(self, rows: list[Any], started: int, now: float) -> None:
        """Take the rows read as the presence, except where this worker changed a device since
        the read began: its own later change stands."""
        with self._lock:
            online = {r[0] for r in rows if r[1]}
            later = {d for d, n in self._changed_at.items() if n > started}
            online -= later
            online |= later & self._online
            self._online = online
            self._changed_at = {d: self._changed_at[d] for d in later}
            self._keepalive.update({r[0]: int(r[2]) for r in rows if r[0] not in later})
            for device_id, _, _, last_seen in rows:
                if last_seen is not None:
                    written = self._written.get(device_id, 0.0)
                    self._written[device_id] = max(written, float(last_seen))
            self._presence_loaded = now

    def refresh_presence_due(self) -> None:
        """Reload presence if it is older than PRESENCE_REFRESH_S. The ingest pipeline calls
        this before it takes its lock for ``touch``: the reload reads every device (a city's
        worth), which an alarm waiting for that lock need not wait for."""
        now = time.time()
        if now - self._presence_loaded > PRESENCE_REFRESH_S:
            self._refresh_presence(now)

    def touch(self, seen: Mapping[str, float], refresh: bool = True) -> list[str]:
        """Record when devices were last heard from; return those that came back online.

        last_seen is written only when it has moved by a tenth of the device's keepalive, so a
        city of sensors costs a few hundred row updates a second, not one per message; the
        heartbeat timeout (1.5 x keepalive) is still judged within 10 % of a keepalive.
        ``refresh=False``: the caller reloads presence itself (``refresh_presence_due``), outside
        the lock it holds around this call.
        """
        back: list[str] = []
        if not seen:
            return back
        now = time.time()
        if refresh and now - self._presence_loaded > PRESENCE_REFRESH_S:
            self._refresh_presence(now)
        with self._lock:
            due = sorted(
                d
                for d, ts in seen.items()
                if d not in self._online
                or ts - self._written.get(d, 0.0) >= 0.1 * self._keepalive.get(d, 60)
            )
            maybe_offline = [d for d in due if d not in self._online]
        if not due:
            return back
        with self.engine.begin() as conn:
            offline = set()
            if maybe_offline:
                offline = {
                    r[0]
                    for r in conn.execute(
                        sa.select(devices.c.id).where(
                            devices.c.id.in_(maybe_offline), devices.c.online.is_(False)
                        )
                    )
                }
            if self.engine.dialect.name == "sqlite":
                sqlite_json_batch(conn, _SQLITE_TOUCH, [(d, seen[d]) for d in due])
            else:
                conn.execute(_PG_TOUCH, {"ids": due, "ts": [seen[d] for d in due]})
            gone = _left_by_will(conn, sorted(offline))
            returning = sorted(offline - gone)
            if returning:
                # One statement for a wave of them (a hub restarted under a city's traffic),
                # not two each; on PostgreSQL the rows are locked in id order first.
                if conn.dialect.name != "sqlite":
                    conn.execute(
                        sa.select(devices.c.id)
                        .where(devices.c.id.in_(returning))
                        .order_by(devices.c.id)
                        .with_for_update()
                    )
                came_back = conn.execute(
                    devices.update()
                    .where(devices.c.id.in_(returning), devices.c.online.is_(False))
                    .values(online=True)
                    .returning(devices.c.id)
                ).scalars()
                back = sorted(came_back)  # the rest: another worker saw their traffic first
                if back:
                    conn.execute(
                        device_states.insert(),
                        [
                            {"device_id": d, "ts": now, "online": True, "reason": "traffic"}
                            for d in back
                        ],
                    )
        with self._lock:
            for d in due:
                self._written[d] = seen[d]
                if d not in offline or d in back:
                    self._mark(d, True)
        return back

    def expire_silent(self, now: float | None = None) -> list[str]:
        """Mark offline every online device silent for more than 1.5 x its keepalive."""
        now = time.time() if now is None else now
        gone: list[str] = []
        with self.engine.begin() as conn:
            rows = conn.execute(
                sa.select(devices.c.id, devices.c.last_seen, devices.c.keepalive)
                .where(devices.c.online.is_(True))
                .order_by(devices.c.id)
            ).all()
            for device_id, last_seen, keepalive in rows:
                if last_seen is not None and now - last_seen > HEARTBEAT_FACTOR * keepalive:
                    # Conditional: another worker may have seen it speak, or expired it, since.
                    expired = conn.execute(
                        devices.update()
                        .where(
                            devices.c.id == device_id,
                            devices.c.online.is_(True),
                            devices.c.last_seen == last_seen,
                        )
                        .values(online=False)
                    ).rowcount
                    if not expired:
                        continue
                    conn.execute(
                        device_states.insert().values(
                            device_id=device_id, ts=now, online=False, reason="heartbeat_timeout"
                        )
                    )
                    gone.append(device_id)
        with self._lock:
            for device_id in gone:
                self._mark(device_id, False)
        return gone

    def set_health(self, device_id: str, health: Mapping[str, Any]) -> None:
        """Store the health report a device last sent (its drivers' states), replacing the previous
        one."""
        with self.engine.begin() as conn:
            conn.execute(
                devices.update().where(devices.c.id == device_id).values(health=dict(health))
            )

    def set_config_version(
        self, device_id: str, version: int, conn: sa.Connection | None = None
    ) -> None:
        """Record the config version the device reports it has applied (``conn``: within that
        transaction)."""
        if conn is None:
            with self.engine.begin() as own:
                self.set_config_version(device_id, version, own)
            return
        conn.execute(
            devices.update().where(devices.c.id == device_id).values(config_version=version)
        )

    def history(self, device_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The device's presence changes, newest first: births, wills, heartbeat timeouts and
        returns on traffic. Raises NotFoundError if the device is not registered."""
        self.get(device_id)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(device_states)
                .where(device_states.c.device_id == device_id)
                .order_by(device_states.c.id.desc())
                .limit(limit)
            )
            return [
                {
                    "ts": r.ts,
                    "online": bool(r.online),
                    "boot_id": r.boot_id,
                    "reason": r.reason,
                }
                for r in rows
            ]

    def summary(self) -> dict[str, Any]:
        """Fleet totals for the dashboard: devices, online, offline, and the devices with a driver
        that is not online (with those drivers' states)."""
        with self.engine.connect() as conn:
            total = int(conn.execute(sa.select(sa.func.count()).select_from(devices)).scalar_one())
            online = int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(devices)
                    .where(devices.c.online.is_(True))
                ).scalar_one()
            )
            health_rows = conn.execute(sa.select(devices.c.id, devices.c.health)).all()
        sick = []
        for device_id, health in health_rows:
            bad = {
                name: d.get("state")
                for name, d in ((health or {}).get("drivers") or {}).items()
                if isinstance(d, dict) and d.get("state") != "online"
            }
            if bad:
                sick.append({"id": device_id, "drivers": bad})
        return {"devices": total, "online": online, "offline": total - online, "sick": sick}
