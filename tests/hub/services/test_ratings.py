"""好差评 over a generated month of visits: the API's aggregates per hall, errand and week match
an independent computation of the same visits."""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.services.ratings import RatingIn

SHANGHAI = ZoneInfo("Asia/Shanghai")
HALLS = ["hall-huangpu", "hall-pudong", "hall-jingan"]
ERRANDS = ["residence-proof", "social-security-record", "application-progress"]
TAGS = ["fast", "clear_guide", "friendly", "easy_kiosk", "long_wait", "unclear_guide"]


def month_of_visits(seed: int = 7) -> list[dict[str, Any]]:
    """Every weekday of November 2026, opening hours in Shanghai, 5 to 25 ratings per hall."""
    rng = random.Random(seed)
    visits = []
    for day in range(1, 31):
        date = datetime(2026, 11, day, tzinfo=SHANGHAI)
        if date.weekday() >= 5:
            continue
        for hall in HALLS:
            for _ in range(rng.randint(5, 25)):
                at = date.replace(hour=rng.randint(9, 16), minute=rng.randint(0, 59))
                level = rng.choices([5, 4, 3, 2, 1], weights=[50, 25, 12, 8, 5])[0]
                visits.append(
                    {
                        "ts": at.timestamp() + rng.random(),
                        "hall": hall,
                        "errand_id": rng.choice(ERRANDS),
                        "level": level,
                        "tags": rng.sample(TAGS, rng.randint(0, 2)),
                        "device": f"kiosk-{hall}-{rng.randint(1, 3)}",
                    }
                )
    return visits


def expected(visits: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for v in visits:
        if key == "week":
            year, week, _ = datetime.fromtimestamp(v["ts"], SHANGHAI).isocalendar()
            groups[f"{year}-W{week:02d}"].append(v)
        else:
            groups[v["hall" if key == "hall" else "errand_id"]].append(v)
    out = {}
    for name, items in groups.items():
        levels = Counter(v["level"] for v in items)
        n = len(items)
        out[name] = {
            "count": n,
            "levels": {str(lv): levels.get(lv, 0) for lv in range(1, 6)},
            "mean_level": round(sum(v["level"] for v in items) / n, 3),
            "good_rate": round((levels[4] + levels[5]) / n, 4),
            "tags": dict(Counter(t for v in items for t in v["tags"])),
        }
    return out


async def test_month_of_ratings_aggregates(services_hub: Any) -> None:
    sh = await services_hub()
    visits = month_of_visits()
    by_device: dict[str, list[tuple[RatingIn, float]]] = defaultdict(list)
    for v in visits:
        rating = RatingIn(v["level"], v["hall"], v["errand_id"], v["tags"])
        by_device[v["device"]].append((rating, v["ts"]))
    for device, items in by_device.items():
        await asyncio.to_thread(sh.services.ratings.record_many, items, device)
    # One more through the API today: outside the month, so it must not count.
    status, _ = await sh.kiosk(
        "POST",
        "/services/ratings",
        json={"level": 1, "hall": "hall-huangpu", "errand_id": "residence-proof"},
    )
    assert status == 201
    since = datetime(2026, 11, 1, tzinfo=SHANGHAI).timestamp()
    until = datetime(2026, 12, 1, tzinfo=SHANGHAI).timestamp()
    for group in ("hall", "errand", "week"):
        status, summary = await sh.admin(
            "GET",
            "/services/ratings/summary",
            params={"group": group, "since": str(since), "until": str(until)},
        )
        assert status == 200
        got = {
            g["key"]: {k: g[k] for k in ("count", "levels", "mean_level", "good_rate", "tags")}
            for g in summary["groups"]
        }
        assert got == expected(visits, group), group
    assert sum(g["count"] for g in summary["groups"]) == len(visits)
    assert list(got) == sorted(got) and len(got) == 5  # five ISO weeks touch November 2026
    status, body = await sh.admin("GET", "/services/ratings/summary", params={"group": "kiosk"})
    assert status == 400 and "group" in body["error"]
