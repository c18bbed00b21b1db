"""Applications and their progress, behind one interface with two backends.

- ``EmbeddedApplications`` keeps applications in the hub's database (the default; an admin or a
  back-office system records each status change through the API).
- ``PlatformApplications`` asks the city's 一网通办 platform over HTTP (documented in
  docs/services.md; sim/platform plays it for the demo and the tests).

Both answer with the same timeline: received, prechecked, under_review, decided,
ready_for_pickup, each with its time and an optional note.
"""

from __future__ import annotations

import re
import time
from typing import Any, Final, Protocol

import aiohttp
import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typing_extensions import override

from hub.services.errors import BadRequest, PlatformError, UnknownItem
from hub.services.tables import application_events, applications

STATUSES: Final = ("received", "prechecked", "under_review", "decided", "ready_for_pickup")
STATUS_LABELS: Final[dict[str, dict[str, str]]] = {
    "received": {"zh-CN": "已受理", "en": "Received"},
    "prechecked": {"zh-CN": "预审通过", "en": "Pre-checked"},
    "under_review": {"zh-CN": "审查中", "en": "Under review"},
    "decided": {"zh-CN": "已办结", "en": "Decided"},
    "ready_for_pickup": {"zh-CN": "待领取", "en": "Ready for pickup"},
}
NUMBER: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{2,63}")


def check_number(number: str) -> str:
    """``number`` when it has the form of an application number, else BadRequest."""
    if not NUMBER.fullmatch(number):
        raise BadRequest(
            "application number: 3 to 64 letters, digits and '-' (as printed on the receipt)"
        )
    return number


class TimelineStep(msgspec.Struct):
    """One status of an application and when it was reached."""

    status: str
    at: float
    note: str = ""


class Application(msgspec.Struct):
    """An application and its timeline, oldest step first."""

    number: str
    errand_id: str
    timeline: list[TimelineStep]

    @property
    def status(self) -> str:
        """The newest status of the timeline; "received" for an empty one."""
        return self.timeline[-1].status if self.timeline else "received"


def present(app: Application, lang: str, errand_name: str) -> dict[str, Any]:
    """Contract C's shape of an application, in one language."""
    return {
        "number": app.number,
        "errand_id": app.errand_id,
        "errand_name": errand_name,
        "status": app.status,
        "status_label": STATUS_LABELS[app.status][lang],
        "timeline": [
            {
                "status": step.status,
                "label": STATUS_LABELS[step.status][lang],
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(step.at)),
                "note": step.note,
            }
            for step in app.timeline
        ],
    }


class ApplicationBackend(Protocol):
    """Where applications live: the hub's database or the city's platform."""

    name: str

    async def get(self, number: str) -> Application:
        """The application and its timeline, or UnknownItem."""
        ...


class EmbeddedApplications(ApplicationBackend):
    """Applications kept in the hub's own database (when no outside system holds them)."""

    name = "embedded"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @override
    async def get(self, number: str) -> Application:
        import asyncio

        return await asyncio.to_thread(self.load, number)

    def load(self, number: str) -> Application:
        """The application and its timeline, blocking (``get`` runs it in a thread); UnknownItem if
        there is none."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(applications).where(applications.c.number == number)
            ).first()
            if row is None:
                raise UnknownItem(f"no application {number}")
            steps = conn.execute(
                sa.select(application_events)
                .where(application_events.c.number == number)
                .order_by(application_events.c.at, application_events.c.id)
            )
            timeline = [TimelineStep(s.status, s.at, s.note) for s in steps]
        return Application(row.number, row.errand_id, timeline)

    def create(self, number: str, errand_id: str, at: float | None = None) -> Application:
        """Record a new application in status "received"; BadRequest for a bad or existing
        number."""
        check_number(number)
        at = time.time() if at is None else at
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    applications.insert().values(
                        number=number,
                        errand_id=errand_id,
                        status="received",
                        created=at,
                        updated=at,
                    )
                )
                conn.execute(
                    application_events.insert().values(
                        number=number, status="received", at=at, note=""
                    )
                )
        except sa.exc.IntegrityError:
            raise BadRequest(f"application {number} exists already") from None
        return self.load(number)

    def advance(
        self, number: str, status: str, note: str = "", at: float | None = None
    ) -> Application:
        """Record the next status; a status may not go back to an earlier one."""
        if status not in STATUSES:
            raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
        if len(note) > 500:
            raise BadRequest("note: at most 500 characters")
        current = self.load(number)
        if STATUSES.index(status) < STATUSES.index(current.status):
            raise BadRequest(
                f"application {number} is {current.status}; it cannot go back to {status}"
            )
        at = time.time() if at is None else at
        with self.engine.begin() as conn:
            conn.execute(
                applications.update()
                .where(applications.c.number == number)
                .values(status=status, updated=at)
            )
            conn.execute(
                application_events.insert().values(number=number, status=status, at=at, note=note)
            )
        return self.load(number)


# The platform's own vocabulary (its codes), mapped onto ours.
PLATFORM_CODES: Final[dict[str, str]] = {
    "01": "received",
    "02": "prechecked",
    "03": "under_review",
    "04": "decided",
    "05": "ready_for_pickup",
}


class _PlatformStep(msgspec.Struct):
    code: str
    time: str  # ISO 8601 with offset, e.g. 2026-12-01T09:30:00+08:00
    remark: str = ""


class _PlatformAnswer(msgspec.Struct):
    applyNo: str  # the platform's field names
    itemCode: str
    flow: list[_PlatformStep]


class PlatformApplications(ApplicationBackend):
    """The 一网通办 HTTP adapter: ``GET {base}/api/applications/{number}`` with a bearer token.

    The platform answers ``{"applyNo", "itemCode", "flow": [{"code", "time", "remark"}]}`` with
    codes 01..05 (see PLATFORM_CODES), 404 for an unknown number. Anything else is a
    PlatformError, which the API turns into 502.
    """

    name = "platform"

    def __init__(self, base_url: str, token: str = "", timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    @override
    async def get(self, number: str) -> Application:
        from datetime import datetime

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        url = f"{self.base_url}/api/applications/{number}"
        try:
            async with (
                aiohttp.ClientSession(timeout=self.timeout) as session,
                session.get(url, headers=headers) as resp,
            ):
                if resp.status == 404:
                    raise UnknownItem(f"no application {number}")
                if resp.status != 200:
                    raise PlatformError(f"the application platform answered {resp.status}")
                raw = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PlatformError(f"the application platform is unreachable: {exc!r}") from None
        try:
            answer = msgspec.json.decode(raw, type=_PlatformAnswer)
            timeline = [
                TimelineStep(
                    PLATFORM_CODES[step.code],
                    datetime.fromisoformat(step.time).timestamp(),
                    step.remark[:500],
                )
                for step in answer.flow
            ]
        except (msgspec.DecodeError, msgspec.ValidationError, KeyError, ValueError) as exc:
            raise PlatformError(f"the application platform's answer is unreadable: {exc}") from None
        return Application(answer.applyNo, answer.itemCode, timeline)
