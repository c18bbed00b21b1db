"""Commands to devices: persisted, sent when the device is online, expired when they are not.

States: queued (device offline or link down) -> sent (published, QoS 1) -> acknowledged or
failed (from cmd/ack); queued or sent past ``expires_at`` -> expired. A command is never shown
as delivered before the device's own acknowledgement arrives.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from govedge.contract import (
    Channel,
    Command,
    CommandAck,
    CommandData,
    EnvelopeStamper,
    encode,
    topic,
)
from govedge.logs import fields
from hub.db import commands, devices, found
from hub.errors import ValidationError
from hub.metrics import HubMetrics

log = logging.getLogger("govedge.hub.commands")

Publisher = Callable[[str, bytes], bool]

QUEUED, SENT, ACKNOWLEDGED, FAILED, EXPIRED = "queued", "sent", "acknowledged", "failed", "expired"
QUEUED_SETTLED_S = 2.0
"""``send_queued`` leaves alone a command queued this recently: ``create`` or a birth sends it."""
SWEEP_LIMIT = 1000
"""Commands ``send_queued`` sends per call, oldest first; the rest at its next call."""
MAX_TTL_S = 7 * 86400


class CommandService:
    """Commands to devices: created in batches, published over MQTT, tracked until answered."""

    def __init__(
        self,
        engine: Engine,
        publish: Publisher,
        metrics: HubMetrics,
        root: str,
        hub_boot_id: str,
        next_seq: Callable[[], int],
    ) -> None:
        self.engine = engine
        self.publish = publish
        self.metrics = metrics
        self.root = root
        self.hub_boot_id = hub_boot_id
        self.stamper = EnvelopeStamper(None, hub_boot_id, next_seq=next_seq)
        self._lock = threading.Lock()

    def create(
        self, device_ids: Iterable[str], name: str, args: Mapping[str, Any], ttl_s: float
    ) -> dict[str, Any]:
        """Persist one command per device and send it to those online now."""
        if not 1 <= ttl_s <= MAX_TTL_S:
            raise ValidationError(f"ttl_s must be between 1 and {MAX_TTL_S}")
        ids = list(device_ids)
        if not ids:
            raise ValidationError("no device matches")
        now = time.time()
        batch = uuid.uuid4().hex[:16]
        rows = [
            {
                "id": f"{batch}-{i}",
                "device_id": d,
                "name": name,
                "args": dict(args),
                "created": now,
                "expires_at": now + ttl_s,
                "state": QUEUED,
                "updated": now,
                "error": "",
                "batch": batch,
            }
            for i, d in enumerate(ids)
        ]
        with self.engine.begin() as conn:
            conn.execute(commands.insert(), rows)
        self.metrics.commands.labels(QUEUED).inc(len(rows))
        online = self._online(ids)
        for row in rows:
            if row["device_id"] in online:
                self._send(row)
        return {"batch": batch, "commands": [r["id"] for r in rows]}

    def _online(self, ids: list[str]) -> set[str]:
        with self.engine.connect() as conn:
            return {
                r[0]
                for r in conn.execute(
                    sa.select(devices.c.id).where(devices.c.id.in_(ids), devices.c.online.is_(True))
                )
            }

    def _send(self, row: Mapping[str, Any]) -> None:
        data = CommandData(
            id=row["id"], name=row["name"], args=row["args"], expires_at=row["expires_at"]
        )
        msg = self.stamper.stamp(Command, data, to=row["device_id"])
        if not self.publish(topic(row["device_id"], Channel.CMD, self.root), encode(msg)):
            return  # stays queued; sent when the link and the device are back
        with self.engine.begin() as conn:
            conn.execute(
                commands.update()
                .where(commands.c.id == row["id"], commands.c.state == QUEUED)
                .values(state=SENT, sent_at=time.time(), updated=time.time())
            )
        self.metrics.commands.labels(SENT).inc()

    def device_online(self, device_ids: Iterable[str]) -> int:
        """Send what was queued for devices that just came online; return how many."""
        ids = list(device_ids)
        if not ids:
            return 0
        return self._send_waiting(sa.select(commands).where(commands.c.device_id.in_(ids)))

    def send_queued(self, settled_s: float = QUEUED_SETTLED_S) -> int:
        """Send what is still queued for devices that are online; return how many.

        A birth's listener sends a device's queued commands at once (``device_online``), but a
        worker killed between storing the birth and its listeners leaves them queued (the
        redelivered birth changes nothing at its successor), as does a broker link down at that
        moment. The hub's background loop calls this. Commands queued within ``settled_s`` are
        left to ``create``'s and the birth's own sends."""
        query = (
            sa.select(commands)
            .join(devices, devices.c.id == commands.c.device_id)
            .where(commands.c.updated < time.time() - settled_s, devices.c.online.is_(True))
            .limit(SWEEP_LIMIT)
        )
        sent = self._send_waiting(query)
        if sent:
            log.info("queued_commands_sent", extra=fields(commands=sent))
        return sent

    def _send_waiting(self, query: sa.Select[Any]) -> int:
        """Send the commands ``query`` selects that are queued and unexpired, oldest first;
        return how many."""
        query = query.where(commands.c.state == QUEUED, commands.c.expires_at > time.time())
        with self.engine.connect() as conn:
            pending = [dict(r._mapping) for r in conn.execute(query.order_by(commands.c.created))]
        for row in pending:
            self._send(row)
        return len(pending)

    def on_acks(self, acks: Iterable[CommandAck], conn: sa.Connection | None = None) -> None:
        """Apply devices' acknowledgements: a queued or sent command becomes acknowledged or failed
        with the device's result. An ack for an unknown, another device's or a finished command is
        logged and ignored (a device may resend after a reconnect; a second worker may store a
        copy). ``conn``: within that transaction (the one that stores the ingest batch)."""
        if conn is None:
            with self.engine.begin() as own:
                self.on_acks(acks, own)
            return
        now = time.time()
        for ack in acks:
            state = ACKNOWLEDGED if ack.data.ok else FAILED
            done = conn.execute(
                commands.update()
                .where(
                    commands.c.id == ack.data.id,
                    commands.c.device_id == ack.device_id,
                    commands.c.state.in_((QUEUED, SENT)),
                )
                .values(
                    state=state, result=dict(ack.data.result), error=ack.data.error, updated=now
                )
            ).rowcount
            if done:
                self.metrics.commands.labels(state).inc()
            else:
                log.info(
                    "command_ack_ignored",
                    extra=fields(command=ack.data.id, device=ack.device_id),
                )

    def expire(self, now: float | None = None) -> int:
        """Mark expired every queued or sent command past its ``expires_at``; return how many. Cheap
        when nothing is due: it reads before it takes the write lock."""
        now = time.time() if now is None else now
        due = commands.c.state.in_((QUEUED, SENT)) & (commands.c.expires_at <= now)
        with self.engine.connect() as conn:
            # Look before writing: on SQLite an UPDATE takes the write lock even when it
            # matches nothing, and every second that would make the ingest writer wait.
            if conn.execute(sa.select(commands.c.id).where(due).limit(1)).first() is None:
                return 0
        with self.engine.begin() as conn:
            count = conn.execute(
                commands.update()
                .where(due)
                .values(state=EXPIRED, updated=now, error="expired before acknowledgement")
            ).rowcount
        if count:
            self.metrics.commands.labels(EXPIRED).inc(count)
        return int(count)

    def get(self, command_id: str) -> dict[str, Any]:
        """A command's row (state, result, error, times); NotFoundError if there is none."""
        with self.engine.connect() as conn:
            row = found(conn, commands.c.id, command_id, "command")
        return dict(row._mapping)

    def search(
        self, *, device_id: str = "", batch: str = "", state: str = "", limit: int = 100
    ) -> list[dict[str, Any]]:
        """The newest commands, optionally of one device, one batch or in one state."""
        query = sa.select(commands).order_by(commands.c.created.desc()).limit(limit)
        if device_id:
            query = query.where(commands.c.device_id == device_id)
        if batch:
            query = query.where(commands.c.batch == batch)
        if state:
            query = query.where(commands.c.state == state)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def batch_summary(self, batch: str) -> dict[str, int]:
        """State -> number of commands of a batch (states with none are left out)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(commands.c.state, sa.func.count())
                .where(commands.c.batch == batch)
                .group_by(commands.c.state)
            )
            return {state: int(n) for state, n in rows}
