"""The console's inspection routes: the task page and its filters, a case's verification of what
the hub holds (a record or photo changed at rest is named), the terminal's outstanding refusal
(kept, then cleared), photo previews, reassignment and the checks of a new task."""

from __future__ import annotations

import asyncio
import hashlib
import io
import random

import aiohttp
import sqlalchemy as sa

from govedge.contract import evidence as ev
from hub.inspection.api import INSPECTION
from hub.inspection.db import records

from .conftest import InspectionHub, Terminal


def jpeg(seed: int) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (640, 480), (seed * 40 % 256, 120, 60))
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


async def record(t: Terminal, task_id: str, photo: bytes) -> None:
    await asyncio.to_thread(
        t.store.append,
        task_id=task_id,
        item_id="q0",
        answer="pass",
        note="",
        inspector_id="insp-007",
        photo=photo,
        position=ev.Position(31.2, 121.4, 1, 8, 1.0, 0.2),
        since_contact_s=None,
    )


async def sync(t: Terminal) -> dict | None:  # type: ignore[type-arg]
    async with aiohttp.ClientSession() as session:
        return (await t.sync.sync_once(session)).refused


async def test_task_page_filters_and_counts(inspection_hub: InspectionHub) -> None:
    h = inspection_hub
    a, b = h.terminal("insp-page-a"), h.terminal("insp-page-b")
    for n in range(3):
        await h.task(f"P{n}", a.device_id)
    await h.task("P9", b.device_id)
    await record(a, "P1", jpeg(1))
    await record(a, "P1", jpeg(2))
    assert await sync(a) is None
    status, page = await h.call("GET", "/api/v1/inspection/console/tasks?assignee=insp-page-a")
    assert status == 200 and page["total"] == 3
    counts = {t["id"]: (t["records"], t["photos"]) for t in page["items"]}
    assert counts == {"P0": (0, 0), "P1": (2, 2), "P2": (0, 0)}
    assert page["facets"]["devices"] == ["insp-page-a", "insp-page-b"]
    assert page["facets"]["states"]["assigned"] == 4
    status, page = await h.call("GET", "/api/v1/inspection/console/tasks?q=P9&limit=1")
    assert [t["id"] for t in page["items"]] == ["P9"]
    status, page = await h.call("GET", "/api/v1/inspection/console/tasks?state=gone")
    assert status == 400 and "state" in page["error"]


async def test_case_names_a_record_changed_at_rest(inspection_hub: InspectionHub) -> None:
    h = inspection_hub
    t = h.terminal("insp-rest")
    await h.task("C1", t.device_id)
    for i in range(3):
        await record(t, "C1", jpeg(10 + i))
    assert await sync(t) is None
    status, case = await h.call("GET", "/api/v1/inspection/console/tasks/C1")
    assert status == 200 and case["verification"]["ok"], case["verification"]
    assert case["verification"]["records"] == 3 and case["verification"]["photos"] == 3
    assert [r["seq"] for r in case["records"]] == [1, 2, 3]
    # a photo's bytes changed in place, its size kept: found although the case was seen before
    photo = h.hub.extensions[INSPECTION].photos.path(hashlib.sha256(jpeg(12)).hexdigest())
    original = photo.read_bytes()
    with photo.open("r+b") as fh:
        fh.seek(len(original) // 2)
        fh.write(bytes([original[len(original) // 2] ^ 1]))
    _, case = await h.call("GET", "/api/v1/inspection/console/tasks/C1")
    v = case["verification"]
    assert not v["ok"] and v["bad_seq"] == 3 and "altered" in v["problem"], v
    photo.write_bytes(original)
    _, case = await h.call("GET", "/api/v1/inspection/console/tasks/C1")
    assert case["verification"]["ok"]
    # someone edits record 2 in the hub's database
    with h.hub.engine.begin() as conn:
        body = conn.execute(sa.select(records.c.body).where(records.c.seq == 2)).scalar()
        conn.execute(
            records.update()
            .where(records.c.seq == 2, records.c.device_id == t.device_id)
            .values(body=body.replace(b'"pass"', b'"fail"'))
        )
    status, case = await h.call("GET", "/api/v1/inspection/console/tasks/C1")
    v = case["verification"]
    assert not v["ok"] and v["bad_seq"] == 2 and "signature" in v["problem"], v


async def test_refusal_is_kept_then_cleared(inspection_hub: InspectionHub) -> None:
    h = inspection_hub
    t = h.terminal("insp-refused")
    await h.task("R1", t.device_id)
    await record(t, "R1", jpeg(20))
    await record(t, "R1", jpeg(21))
    t.store.photo_path(hashlib.sha256(jpeg(21)).hexdigest()).write_bytes(jpeg(22))
    refused = await sync(t)
    assert refused is not None and refused["seq"] == 2
    _, case = await h.call("GET", "/api/v1/inspection/console/tasks/R1")
    assert case["refusal"]["seq"] == 2 and case["refusal"]["task_id"] == "R1"
    assert "not held whole" in case["refusal"]["reason"]
    _, page = await h.call("GET", "/api/v1/inspection/console/tasks")
    assert [x["refused"] for x in page["items"]] == [True]
    # the terminal's photo is put right (the inspector's original bytes): the record goes in
    t.store.photo_path(hashlib.sha256(jpeg(21)).hexdigest()).write_bytes(jpeg(21))
    assert await sync(t) is None
    _, case = await h.call("GET", "/api/v1/inspection/console/tasks/R1")
    assert case["refusal"] is None and case["verification"]["records"] == 2


async def test_photo_previews(inspection_hub: InspectionHub) -> None:
    from PIL import Image

    h = inspection_hub
    t = h.terminal("insp-thumbs")
    await h.task("V1", t.device_id)
    await record(t, "V1", jpeg(30))
    await record(t, "V1", random.Random(3).randbytes(5000))  # not an image
    assert await sync(t) is None
    sha = hashlib.sha256(jpeg(30)).hexdigest()
    status, thumb = await h.call_bytes(f"/api/v1/inspection/photos/{sha}")
    assert status == 200
    assert Image.open(io.BytesIO(thumb)).size == (320, 240)
    status, full = await h.call_bytes(f"/api/v1/inspection/photos/{sha}?size=full")
    assert status == 200 and full == jpeg(30)
    other = hashlib.sha256(random.Random(3).randbytes(5000)).hexdigest()
    status, body = await h.call("GET", f"/api/v1/inspection/photos/{other}")
    assert status == 404 and "preview" in body["error"]
    status, body = await h.call("GET", "/api/v1/inspection/photos/..%2Fregistry.db")
    assert status in (400, 404)


async def test_reassign_and_new_task_checks(inspection_hub: InspectionHub) -> None:
    h = inspection_hub
    a, b = h.terminal("insp-from"), h.terminal("insp-to")
    await h.task("M1", a.device_id)
    await h.task("M2", a.device_id)
    status, task = await h.call(
        "POST",
        "/api/v1/inspection/tasks/M1/assign",
        json={"device_id": b.device_id, "inspector_id": "insp-042"},
    )
    assert status == 200, task
    assert (task["device_id"], task["inspector_id"], task["state"]) == (
        b.device_id,
        "insp-042",
        "assigned",
    )
    await record(a, "M2", jpeg(40))
    assert await sync(a) is None
    status, body = await h.call(
        "POST", "/api/v1/inspection/tasks/M2/assign", json={"device_id": b.device_id}
    )
    assert status == 409 and "evidence" in body["error"]
    status, body = await h.call(
        "POST", "/api/v1/inspection/tasks/nope/assign", json={"device_id": b.device_id}
    )
    assert status == 404
    good = {
        "site": "s",
        "lat": 31.2,
        "lon": 121.4,
        "checklist": [{"id": "q", "text": "q"}],
        "due": "2026-12-31",
        "inspector_id": "i",
        "device_id": "d",
    }
    for change, word in (
        ({"lat": 91}, "lat"),
        ({"due": "tomorrow"}, "due"),
        ({"site": " "}, "site"),
    ):
        status, body = await h.call("POST", "/api/v1/inspection/tasks", json={**good, **change})
        assert status == 400 and word in body["error"], body
