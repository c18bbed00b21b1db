"""好差评: a citizen's rating of an errand, tied to hall, kiosk, errand and time, and the
aggregates per hall, errand and ISO week that an admin reads.

A comment is optional, short, and refused if it looks like it holds an ID or phone number: the
hub keeps no personal data with a rating.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, Final, Literal

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.api.routing import one_of
from hub.services.catalog_data import RATING_LEVELS, RATING_TAGS
from hub.services.errors import BadRequest
from hub.services.ids import looks_personal
from hub.services.tables import ratings

MAX_COMMENT: Final = 200
# Weeks are counted in the halls' time zone (China Standard Time).
HALL_TZ: Final = timezone(timedelta(hours=8))
GROUPS: Final = ("hall", "errand", "week")


Short = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Tag = Annotated[str, one_of(RATING_TAGS, "see /services/rating-tags")]


class RatingIn(msgspec.Struct, forbid_unknown_fields=True):
    """The body of POST /services/ratings (contract C)."""

    level: Annotated[int, msgspec.Meta(ge=1, le=5, description="1 (非常不满意) to 5 (非常满意)")]
    hall: Short
    errand_id: Short
    tags: Annotated[list[Tag], msgspec.Meta(max_length=len(RATING_TAGS))] = msgspec.field(
        default_factory=list
    )
    comment: Annotated[str, msgspec.Meta(max_length=MAX_COMMENT)] = ""


def iso_week(ts: float) -> str:
    """The ISO week of ``ts`` in hall time (UTC+8), as 2026-W49."""
    year, week, _ = datetime.fromtimestamp(ts, HALL_TZ).isocalendar()
    return f"{year}-W{week:02d}"


def check_rating(rating: RatingIn) -> None:
    """The struct's constraints (run again: a rating made in the process was never decoded),
    then what they cannot say: each tag once, and no personal data in the comment."""
    try:
        msgspec.convert(msgspec.to_builtins(rating), RatingIn)
    except msgspec.ValidationError as exc:
        raise BadRequest(f"body: {exc}") from None
    if len(set(rating.tags)) != len(rating.tags):
        raise BadRequest("tags: each tag at most once", "$.tags")
    if looks_personal(rating.comment):
        raise BadRequest(
            "comment: it looks like it holds an ID or phone number; leave personal data out",
            "$.comment",
        )


def tags_catalog(lang: str) -> dict[str, Any]:
    """The rating levels and tags, labelled in ``lang``."""
    return {
        "levels": [{"level": lv, "label": t[lang]} for lv, t in RATING_LEVELS.items()],
        "tags": [{"id": tag, "label": t[lang]} for tag, t in RATING_TAGS.items()],
    }


class RatingService:
    """Citizens' ratings from the kiosks, and their summaries."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, rating: RatingIn, device: str, at: float | None = None) -> int:
        """Store one rating from a kiosk; return its id. BadRequest if it breaks a constraint or its
        comment looks like personal data."""
        return self.record_many([(rating, at)], device)[0]

    def record_many(self, items: Sequence[tuple[RatingIn, float | None]], device: str) -> list[int]:
        """Store a batch of ratings (``at`` None means now) in one transaction; return their ids in
        order. Every rating is checked first, so one bad rating stores none."""
        rows = []
        for rating, at in items:
            check_rating(rating)
            ts = time.time() if at is None else at
            rows.append(
                {
                    "ts": ts,
                    "week": iso_week(ts),
                    "level": rating.level,
                    "tags": list(rating.tags),
                    "comment": rating.comment.strip(),
                    "hall": rating.hall,
                    "device": device,
                    "errand_id": rating.errand_id,
                }
            )
        ids = []
        with self.engine.begin() as conn:
            if len(rows) == 1:
                key = conn.execute(ratings.insert().values(**rows[0])).inserted_primary_key
                ids.append(int(key[0]) if key else 0)
            else:
                conn.execute(ratings.insert(), rows)
        return ids

    def summary(
        self,
        group: Literal["hall", "errand", "week"],
        since: float,
        until: float,
        lang: str = "zh-CN",
    ) -> dict[str, Any]:
        """Per group: count, mean level, count per level, 好评率 (levels 4 and 5), tag counts."""
        column = {"hall": ratings.c.hall, "errand": ratings.c.errand_id, "week": ratings.c.week}[
            group
        ]
        groups: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            levels = conn.execute(
                sa.select(column.label("key"), ratings.c.level, sa.func.count().label("n"))
                .where(ratings.c.ts >= since, ratings.c.ts < until)
                .group_by(column, ratings.c.level)
            )
            for row in levels:
                g = groups.setdefault(
                    row.key,
                    {
                        "key": row.key,
                        "count": 0,
                        "levels": {str(lv): 0 for lv in RATING_LEVELS},
                        "tags": {},
                    },
                )
                g["count"] += int(row.n)
                g["levels"][str(row.level)] += int(row.n)
            # Tags are a JSON list per row: counted here rather than in SQL, which differs
            # between SQLite and PostgreSQL; only the tags column of the window is read.
            for row in conn.execute(
                sa.select(column.label("key"), ratings.c.tags).where(
                    ratings.c.ts >= since, ratings.c.ts < until
                )
            ):
                tags = groups[row.key]["tags"]
                for tag in row.tags or []:
                    tags[tag] = tags.get(tag, 0) + 1
        out = []
        for key in sorted(groups):
            g = groups[key]
            n = g["count"]
            total = sum(int(lv) * c for lv, c in g["levels"].items())
            g["mean_level"] = round(total / n, 3) if n else None
            g["good_rate"] = round((g["levels"]["4"] + g["levels"]["5"]) / n, 4) if n else None
            g["bad_rate"] = round((g["levels"]["1"] + g["levels"]["2"]) / n, 4) if n else None
            g["tags"] = dict(sorted(g["tags"].items(), key=lambda kv: (-kv[1], kv[0])))
            out.append(g)
        return {
            "group": group,
            "since": datetime.fromtimestamp(since, UTC).isoformat(),
            "until": datetime.fromtimestamp(until, UTC).isoformat(),
            "groups": out,
            "labels": tags_catalog(lang),
        }
