"""The alarm feed over WebSocket: replay from a cursor, then live events, nothing missed.

The database is the source of truth, so several hub workers serve the same feed: each worker
polls the highest ``alarm_events`` id (every ``poll_s``, or at once when kicked by a pipeline
listener or a local write) and wakes its clients, and each client reads the rows after its own
cursor.

A client never goes past a hole in the ids until the hole is known to stay (``HoleJudge``). On
PostgreSQL an id is handed out at insert and becomes visible at commit, so with several writers
(workers, API calls) an event can appear after a higher one, however late its writer commits;
the hole is passed once every transaction that was running when the higher id was seen has
ended (``pg_current_snapshot``, ``pg_xact_status``): what is still missing then was rolled back.
Waiting a fixed time instead (before) dropped from the feed, for good, an event whose writer
took longer than that to commit. SQLite has one writer at a time, so its ids commit in order and
a hole is a rolled-back insert: it is passed after ``gap_wait_s``. On both, a hole is passed
after ``HOLE_MAX_S`` whatever holds it (a writer stuck inside its transaction), with a warning.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec
import sqlalchemy as sa
from aiohttp import WSMsgType, web
from sqlalchemy.engine import Engine

from govedge.logs import fields
from hub.alarms.tables import alarm_events
from hub.emergency.alarmview import events_after, last_cursor
from hub.errors import ValidationError

log = logging.getLogger("govedge.hub.feed")

BATCH = 500
RECENT = 1000  # events of this worker kept in memory for its clients
HOLE_MAX_S = 30.0  # a hole in the ids is passed after this long, whatever holds it
SETTLE_MAX_S = 5.0  # how long a starting cursor waits for the events below it to settle

# The transactions of a snapshot that have not ended yet (PostgreSQL 13+).
_STILL_RUNNING = sa.text(
    "SELECT count(*) FROM pg_snapshot_xip(CAST(:snapshot AS pg_snapshot)) AS x "
    "WHERE pg_xact_status(x) = 'in progress'"
)
_SNAPSHOT = sa.text("SELECT CAST(pg_current_snapshot() AS text)")


class FeedNotifier:
    """Tracks the newest event id on this worker and wakes the clients waiting for it."""

    def __init__(self, engine: Engine, poll_s: float = 0.05) -> None:
        self.engine = engine
        self.poll_s = poll_s
        self.latest = 0
        self._changed = asyncio.Event()  # replaced by a new one each time it is set
        self._kick = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.clients = 0
        self.generation = 0
        self._recent: dict[int, dict[str, Any]] = {}
        self._recent_order: deque[int] = deque()

    def kick(self) -> None:
        """Ask for an immediate look at the table; safe from any thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._kick.set)

    def publish(
        self, event: dict[str, Any] | None, sent: Callable[[], None] = lambda: None
    ) -> None:
        """An event this worker has committed: keep it for the clients and wake them.

        Safe from any thread. Clients take events from here while they follow on from their
        cursor without a hole, and read the table otherwise (events of other workers, or of
        API calls), so what they receive is the same either way, only sooner. ``sent`` is
        called once the woken clients have had their turn to send it (or at once, with no
        event loop to hand it to).
        """
        loop = self._loop
        if event is None or loop is None or loop.is_closed():
            sent()
            return
        try:
            loop.call_soon_threadsafe(self._remember, event, sent)
        except RuntimeError:  # the loop closed meanwhile
            sent()

    def _remember(self, event: dict[str, Any], sent: Callable[[], None]) -> None:
        try:
            self._keep(event)
        finally:
            # After the clients this woke: their tasks were scheduled first, and send in turn.
            asyncio.get_running_loop().call_soon(sent)

    def _keep(self, event: dict[str, Any]) -> None:
        cursor = int(event["cursor"])
        self._recent[cursor] = event
        self._recent_order.append(cursor)
        while len(self._recent_order) > RECENT:
            self._recent.pop(self._recent_order.popleft(), None)
        # Wake the clients here rather than through ``run``: every turn of the event loop on
        # an alarm's way waits for the GIL, which busy ingest threads hold under a flood.
        self.latest = max(self.latest, cursor)
        self._wake()
        self._kick.set()

    def _wake(self) -> None:
        self.generation += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def recent_after(self, cursor: int, limit: int) -> list[dict[str, Any]]:
        """Copies of the kept events cursor+1, cursor+2, ... as far as they run unbroken."""
        out: list[dict[str, Any]] = []
        nxt = cursor + 1
        while nxt in self._recent and len(out) < limit:
            out.append(dict(self._recent[nxt]))
            nxt += 1
        return out

    async def run(self) -> None:
        """Poll for new events and wake the waiting clients, forever (a background task of each
        worker); a failed poll is logged and the next one tried."""
        self._loop = asyncio.get_running_loop()
        while True:
            try:
                await asyncio.wait_for(self._kick.wait(), self.poll_s)
            except TimeoutError:
                pass
            kicked = self._kick.is_set()
            self._kick.clear()
            if self._recent_order:
                self.latest = max(self.latest, self._recent_order[-1])
            if kicked:
                # A local write or ingest batch: let the clients look at once (one query each)
                # rather than first asking for the newest id.
                self._wake()
            if not self.clients:
                continue  # nobody to wake: no query (a new client reads from its own cursor)
            try:
                latest = await asyncio.to_thread(last_cursor, self.engine)
            except Exception:
                log.exception("feed_poll_failed")
                continue
            if latest != self.latest:
                self.latest = latest
                self._wake()

    async def wait_beyond(self, cursor: int, wait_s: float) -> None:
        """Return when an event after ``cursor`` may exist, or after ``wait_s`` seconds."""
        if self.latest > cursor:
            return
        try:
            async with asyncio.timeout(wait_s):  # no extra task, unlike wait_for
                while self.latest <= cursor:
                    await self._changed.wait()
        except TimeoutError:
            pass


def parse_cursor(raw: str | None, latest: int) -> int:
    """The event id a client starts after: 0 replays all, ``latest`` skips to now."""
    if raw is None or raw == "":
        return 0
    if raw == "latest":
        return latest
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError("query parameter 'cursor' must be an integer or 'latest'") from None
    if value < 0:
        raise ValidationError("query parameter 'cursor' must be 0 or more")
    return value


def _still_running(engine: Engine, snapshot: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(_STILL_RUNNING, {"snapshot": snapshot}).scalar_one())


def settled_cursor(engine: Engine, wait_s: float = SETTLE_MAX_S, poll_s: float = 0.02) -> int:
    """The newest event id below which no event can still appear (blocking): where a client that
    starts "now" (``/feed/snapshot``, ``cursor=latest``) resumes without missing one.

    The newest visible id is not that on PostgreSQL while a transaction holding a lower id has
    not committed: a console starting after it would never get that event. So this waits until
    the transactions running when the newest id was read have ended (milliseconds, as a rule),
    at most ``wait_s``, and then falls back to the id before the oldest hole among the last
    ``RECENT`` (a client then gets a few events it has seen again, in order, never one less).
    """
    with engine.connect() as conn:
        latest = int(conn.execute(sa.select(sa.func.max(alarm_events.c.id))).scalar() or 0)
        if engine.dialect.name != "postgresql":
            return latest  # one writer at a time: ids commit in order
        snapshot = str(conn.execute(_SNAPSHOT).scalar_one())
    deadline = time.monotonic() + wait_s
    while _still_running(engine, snapshot):
        if time.monotonic() >= deadline:
            break
        time.sleep(poll_s)
    else:
        return latest
    with engine.connect() as conn:
        ids = sorted(
            int(r[0])
            for r in conn.execute(
                sa.select(alarm_events.c.id)
                .where(alarm_events.c.id <= latest)
                .order_by(alarm_events.c.id.desc())
                .limit(RECENT)
            )
        )
    held = next((a for a, b in itertools.pairwise(ids) if b != a + 1), latest)
    log.warning("feed_cursor_held_back", extra=fields(cursor=held, latest=latest))
    return held


class HoleJudge:
    """Decides when one client may go past a hole in the event ids: once the events that could
    still fill it never will (see the module's docstring)."""

    def __init__(self, engine: Engine, gap_wait_s: float, hole_max_s: float = HOLE_MAX_S) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.gap_wait_s = gap_wait_s
        self.hole_max_s = hole_max_s
        self._hole = 0  # the first missing id being judged
        self._since = 0.0
        self._above = 0  # the visible id above it when the snapshot was taken
        self._snapshot = ""

    def final(self, hole: int, above: int) -> bool:
        """Whether ids ``hole`` .. ``above - 1``, not visible now, will never be (blocking).

        ``above`` is an id already seen committed. Any id below it was handed out before it, so
        on PostgreSQL its writer was running, if at all, in a snapshot taken now; once none of
        that snapshot's transactions runs any more, a missing id below ``above`` is final.
        """
        now = time.monotonic()
        if hole != self._hole:
            self._hole, self._since, self._above = hole, now, 0
        if above != self._above:
            self._above = above
            if self.postgres:
                with self.engine.connect() as conn:
                    self._snapshot = str(conn.execute(_SNAPSHOT).scalar_one())
                return False
        waited = now - self._since
        if waited >= self.hole_max_s:
            log.warning(
                "feed_hole_passed", extra=fields(first=hole, last=above - 1, waited_s=round(waited))
            )
            return True
        if not self.postgres:
            return waited >= self.gap_wait_s
        return not _still_running(self.engine, self._snapshot)


class FeedSession:
    """One client's stream: the events after its cursor, in id order, each sent once."""

    def __init__(
        self,
        engine: Engine,
        notifier: FeedNotifier,
        ws: web.WebSocketResponse,
        cursor: int,
        gap_wait_s: float = 1.0,
    ) -> None:
        self.engine = engine
        self.notifier = notifier
        self.ws = ws
        self.cursor = cursor
        self.holes = HoleJudge(engine, gap_wait_s)
        self._final = 0  # holes at or below this id are known to stay

    def _ready(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows that may go out now: up to the first hole not known to stay."""
        out: list[dict[str, Any]] = []
        expected = self.cursor + 1
        for row in rows:
            if row["cursor"] != expected and row["cursor"] - 1 > self._final:
                break
            out.append(row)
            expected = row["cursor"] + 1
        return out

    async def pump(self) -> None:
        """Send the client its events in cursor order until the socket closes; at a hole in the
        ids, wait until it fills or is known to stay (an insert rolled back)."""
        while not self.ws.closed:
            rows = self.notifier.recent_after(self.cursor, BATCH)
            if not rows:
                rows = await asyncio.to_thread(events_after, self.engine, self.cursor, BATCH)
            ready = self._ready(rows)
            for row in ready:
                row["type"] = "event"
                await self.ws.send_str(msgspec.json.encode(row).decode())
                self.cursor = row["cursor"]
            if len(ready) == BATCH:
                continue
            if len(ready) < len(rows):
                above = rows[len(ready)]["cursor"]
                if await asyncio.to_thread(self.holes.final, self.cursor + 1, above):
                    self._final = max(self._final, above - 1)
                    continue  # read again: what filled the hole meanwhile is visible now
                await asyncio.sleep(self.notifier.poll_s)  # waiting for a hole to fill
            else:
                await self.notifier.wait_beyond(self.cursor, 15.0)


async def serve_feed(
    request: web.Request, engine: Engine, notifier: FeedNotifier, gap_wait_s: float
) -> web.WebSocketResponse:
    """Send the alarm events after the client's cursor, then each new one, in id order."""
    # "latest": where nothing can still appear below (the notifier does not poll while nobody
    # listens, and its newest id may have a lower one still to commit below it).
    raw = request.query.get("cursor")
    latest = await asyncio.to_thread(settled_cursor if raw == "latest" else last_cursor, engine)
    notifier.latest = max(notifier.latest, latest)
    cursor = parse_cursor(raw, latest)
    ws = web.WebSocketResponse(heartbeat=20.0)
    await ws.prepare(request)
    session = FeedSession(engine, notifier, ws, cursor, gap_wait_s)
    await ws.send_str(
        msgspec.json.encode({"type": "hello", "cursor": cursor, "latest": notifier.latest}).decode()
    )
    notifier.clients += 1
    log.info("feed_client_connected", extra=fields(cursor=cursor, clients=notifier.clients))
    pump = asyncio.create_task(session.pump())
    try:
        async for msg in ws:
            if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                break
            # Clients have nothing to say; a "ping" text gets the current cursor back.
            if msg.type == WSMsgType.TEXT and msg.data == "ping":
                await ws.send_str(
                    msgspec.json.encode({"type": "pong", "cursor": session.cursor}).decode()
                )
    finally:
        pump.cancel()
        try:
            await pump
        except (asyncio.CancelledError, ConnectionError):
            pass
        except Exception:
            log.exception("feed_client_failed")
        notifier.clients -= 1
        log.info("feed_client_gone", extra=fields(cursor=session.cursor))
    return ws
