"""The devices table as the operator console reads it: filters, paging and counts in SQL.

The device list's first page, its total and the overview's counts are answered by the database
(SQLite or PostgreSQL) without turning 10 000 rows into Python objects: a page is one indexed
``LIMIT`` query, a total one ``COUNT``, the counts one ``GROUP BY``. A device's state is online,
offline, or degraded (online with a driver not online); "degraded" is an ``EXISTS`` over the
health document's drivers, written once per dialect because their JSON functions differ.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hub.db import device_configs, devices

FAULTED = frozenset({"offline", "no_device", "hardware_error"})
STATES = ("online", "offline", "degraded")
CONFIG_LATE_S = 300.0

_DEGRADED = {
    "sqlite": "EXISTS (SELECT 1 FROM json_each(devices.health, '$.drivers') AS d "
    "WHERE json_type(d.value) = 'object' "
    "AND coalesce(json_extract(d.value, '$.state'), '') <> 'online')",
    "postgresql": "EXISTS (SELECT 1 FROM json_each(CASE WHEN "
    "json_typeof(devices.health -> 'drivers') = 'object' THEN devices.health -> 'drivers' END) "
    "AS d WHERE json_typeof(d.value) = 'object' "
    "AND coalesce(d.value ->> 'state', '') <> 'online')",
}
# A label as "key=value", lower-cased, like the text search shows it.
_LABEL_LIKE = {
    "sqlite": "EXISTS (SELECT 1 FROM json_each(devices.labels) AS l "
    "WHERE lower(l.key || '=' || l.value) LIKE :pattern ESCAPE '\\')",
    "postgresql": "EXISTS (SELECT 1 FROM json_each_text(CASE WHEN "
    "json_typeof(devices.labels) = 'object' THEN devices.labels END) AS l "
    "WHERE lower(l.key || '=' || l.value) LIKE :pattern ESCAPE '\\')",
}

# What the list and the attention table show of a device (health decoded by msgspec: faster
# than SQLAlchemy's JSON type).
_COLUMNS = (
    devices.c.id,
    devices.c.model,
    devices.c.site,
    devices.c.lat,
    devices.c.lon,
    devices.c.firmware,
    devices.c.config_version,
    sa.cast(devices.c.labels, sa.Text),
    devices.c.online,
    devices.c.last_seen,
    sa.cast(devices.c.health, sa.Text),
)


def _dialect(conn: Connection) -> str:
    name = conn.dialect.name
    return name if name in _DEGRADED else "sqlite"


def degraded(conn: Connection) -> sa.ColumnElement[bool]:
    """True for a device whose health names a driver that is not online."""
    return sa.literal_column(_DEGRADED[_dialect(conn)], sa.Boolean)


def device_state(online: bool, health: dict[str, Any] | None) -> str:
    """online, offline, or degraded (online with a driver not online)."""
    if not online:
        return "offline"
    drivers = (health or {}).get("drivers") or {}
    if any(isinstance(d, dict) and d.get("state") != "online" for d in drivers.values()):
        return "degraded"
    return "online"


def driver_problems(health: dict[str, Any] | None) -> list[dict[str, str]]:
    """What is wrong with a device's drivers: each a kind and a detail an operator can act on."""
    out: list[dict[str, str]] = []
    drivers = (health or {}).get("drivers") or {}
    for name, d in sorted(drivers.items()):
        if not isinstance(d, dict):
            continue
        state, detail = str(d.get("state", "")), str(d.get("detail", ""))
        if state == "user_error" and "paper" in detail.lower():
            out.append({"kind": "paper_out", "detail": f"{name}: {detail}"})
        elif state in FAULTED or state == "user_error":
            out.append({"kind": "driver_faulted", "detail": f"{name}: {state} {detail}".strip()})
    return out


class DeviceFilter(msgspec.Struct, frozen=True):
    """The device list's filters, already checked by the route."""

    state: str = ""
    site: str = ""
    model: str = ""
    label: tuple[str, str] | None = None
    firmware: str = ""
    config_version: int | None = None
    text: str = ""

    def where(self, conn: Connection) -> list[sa.ColumnElement[bool]]:
        """The SQL conditions of the filters that are set (ANDed by the caller). The ``degraded``
        test depends on the dialect, hence the connection."""
        out: list[sa.ColumnElement[bool]] = []
        if self.state == "offline":
            out.append(devices.c.online.is_(False))
        elif self.state:
            out.append(devices.c.online.is_(True))
            sick = degraded(conn)
            out.append(sick if self.state == "degraded" else sa.not_(sick))
        for column, value in (
            (devices.c.site, self.site),
            (devices.c.model, self.model),
            (devices.c.firmware, self.firmware),
        ):
            if value:
                out.append(column == value)
        if self.config_version is not None:
            out.append(devices.c.config_version == self.config_version)
        if self.label is not None:
            key, value = self.label
            out.append(devices.c.labels[key].as_string() == value)
        if self.text:
            escaped = self.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            like = [
                sa.func.lower(column).like(pattern, escape="\\")
                for column in (devices.c.id, devices.c.site, devices.c.model)
            ]
            labels = sa.text(_LABEL_LIKE[_dialect(conn)]).bindparams(pattern=pattern)
            out.append(sa.or_(*like, labels))
        return out


def _rows(conn: Connection, raw: Sequence[Any], now: float) -> list[dict[str, Any]]:
    """Rows as the console shows them: state, problems, config desired vs reported."""
    ids = [r[0] for r in raw]
    configs: dict[str, tuple[int, str, float, str]] = {}
    if ids:
        configs = {
            r[0]: (r[1], r[2], r[3], r[4])
            for r in conn.execute(
                sa.select(
                    device_configs.c.device_id,
                    device_configs.c.version,
                    device_configs.c.state,
                    device_configs.c.updated,
                    device_configs.c.error,
                ).where(device_configs.c.device_id.in_(ids))
            )
        }
    decode = msgspec.json.decode
    out: list[dict[str, Any]] = []
    for dev_id, model, site, lat, lon, fw, cfg, labels, online, last_seen, health in raw:
        health_doc = decode(health) if health and health != "null" else None
        online = bool(online)
        problems = driver_problems(health_doc) if health_doc else []
        desired = configs.get(dev_id)
        if desired is not None:
            late = desired[1] == "pending" and now - desired[2] > CONFIG_LATE_S
            if desired[1] == "failed" or late:
                detail = f"v{desired[0]} {desired[1]} {desired[3]}".strip()
                problems.append({"kind": "config_not_applied", "detail": detail})
        if not online:
            problems.insert(0, {"kind": "offline", "detail": ""})
        drivers = ((health_doc or {}).get("drivers")) or {}
        out.append(
            {
                "id": dev_id,
                "model": model,
                "site": site,
                "lat": lat,
                "lon": lon,
                "firmware": fw,
                "config_version": cfg,
                "labels": decode(labels) if labels and labels != "null" else {},
                "online": online,
                "last_seen": last_seen,
                "state": device_state(online, health_doc),
                "config_desired": desired[0] if desired else None,
                "config_state": desired[1] if desired else "",
                "problems": problems,
                "drivers": {
                    name: {"state": d.get("state", ""), "detail": d.get("detail", "")}
                    for name, d in drivers.items()
                    if isinstance(d, dict)
                },
            }
        )
    return out


def page(
    conn: Connection, flt: DeviceFilter, sort: str, offset: int, limit: int
) -> tuple[int, list[dict[str, Any]]]:
    """The total that match and one page of them, ordered by id or by last seen (never first)."""
    where = flt.where(conn)
    total = conn.execute(sa.select(sa.func.count()).select_from(devices).where(*where)).scalar_one()
    order = (
        [sa.func.coalesce(devices.c.last_seen, 0.0), devices.c.id]
        if sort == "last_seen"
        else [devices.c.id]
    )
    query = sa.select(*_COLUMNS).where(*where).order_by(*order).offset(offset).limit(limit)
    raw = conn.execute(query).all()
    return int(total), _rows(conn, raw, time.time())


def facets(conn: Connection) -> dict[str, list[Any]]:
    """The values each filter can take, for its drop-down."""

    def distinct(column: Any) -> list[Any]:
        return sorted(r[0] for r in conn.execute(sa.select(column).distinct()) if r[0] != "")

    return {
        "sites": distinct(devices.c.site),
        "models": distinct(devices.c.model),
        "firmwares": distinct(devices.c.firmware),
        "config_versions": distinct(devices.c.config_version),
    }


def _state_index(conn: Connection) -> sa.ColumnElement[int]:
    """0 online, 1 degraded, 2 offline: an index into ``STATE_ORDER``."""
    return sa.case((devices.c.online.is_(False), 2), (degraded(conn), 1), else_=0)


STATE_ORDER = ("online", "degraded", "offline")


def _shape(c: Counter[str]) -> dict[str, int]:
    return {s: c.get(s, 0) for s in STATES}


def counts(conn: Connection) -> dict[str, Any]:
    """Online, offline and degraded in total, per site and per model: one GROUP BY."""
    state = _state_index(conn).label("state")
    rows = conn.execute(
        sa.select(devices.c.site, devices.c.model, state, sa.func.count()).group_by(
            devices.c.site, devices.c.model, state
        )
    ).all()
    return _counted((site, model, STATE_ORDER[st], n) for site, model, st, n in rows)


def _counted(rows: Iterable[tuple[str, str, str, int]]) -> dict[str, Any]:
    by_site: dict[str, Counter[str]] = defaultdict(Counter)
    by_model: dict[str, Counter[str]] = defaultdict(Counter)
    total: Counter[str] = Counter()
    for site, model, st, n in rows:
        by_site[site or "-"][st] += n
        by_model[model or "-"][st] += n
        total[st] += n
    return {
        "total": {**_shape(total), "devices": sum(total.values())},
        "by_site": {k: _shape(v) for k, v in sorted(by_site.items())},
        "by_model": {k: _shape(v) for k, v in sorted(by_model.items())},
    }


def counts_and_positions(conn: Connection) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The counts of ``counts`` and every placed device for the map, from one pass over the
    devices. Positions go column by column (a third of the bytes of one array per device): id,
    site (an index into ``sites``), longitude, latitude (to about a metre) and state (an index
    into ``states``)."""
    rows = conn.execute(
        sa.select(
            devices.c.id,
            devices.c.site,
            devices.c.model,
            devices.c.lon,
            devices.c.lat,
            _state_index(conn),
        )
    ).all()
    tally: Counter[tuple[str, str, int]] = Counter((r[1], r[2], r[5]) for r in rows)
    out = _counted((site, model, STATE_ORDER[st], n) for (site, model, st), n in tally.items())
    placed = [r for r in rows if r[3] is not None and r[4] is not None]
    ids, site_names, _, lon, lat, states = (
        (list(c) for c in zip(*placed, strict=True)) if placed else ([], [], [], [], [], [])
    )
    sites = list(dict.fromkeys(site_names))
    index = {name: i for i, name in enumerate(sites)}
    positions = {
        "ids": ids,
        "site": [index[s] for s in site_names],
        "lon": [round(x, 5) for x in lon],
        "lat": [round(y, 5) for y in lat],
        "state": states,
        "sites": sites,
        "states": list(STATE_ORDER),
    }
    return out, positions


def troubled(conn: Connection) -> list[dict[str, Any]]:
    """The devices with a problem (offline, a driver not online, a config failed or late)."""
    now = time.time()
    bad_config = sa.select(device_configs.c.device_id).where(
        sa.or_(
            device_configs.c.state == "failed",
            sa.and_(
                device_configs.c.state == "pending",
                device_configs.c.updated < now - CONFIG_LATE_S,
            ),
        )
    )
    cond = sa.or_(devices.c.online.is_(False), degraded(conn), devices.c.id.in_(bad_config))
    return _rows(conn, conn.execute(sa.select(*_COLUMNS).where(cond)).all(), now)


def by_ids(conn: Connection, ids: list[str]) -> list[dict[str, Any]]:
    """Devices by id, as the console shows them."""
    if not ids:
        return []
    raw = conn.execute(sa.select(*_COLUMNS).where(devices.c.id.in_(ids))).all()
    return _rows(conn, raw, time.time())
