"""What a sync costs on the wire: one request per photo over a few kept-alive connections, one
question for every waiting photo's offset, and tus HEAD answers that keep their connection."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import Counter
from types import SimpleNamespace
from typing import Any

import aiohttp

from edge_agent.evidence import sync as evidence_sync
from govedge.contract import evidence as ev
from hub.inspection.api import INSPECTION

from .conftest import InspectionHub, Terminal


def traced() -> tuple[aiohttp.TraceConfig, Counter[str]]:
    """A trace that counts requests by method and path tail, and connections opened."""
    seen: Counter[str] = Counter()

    async def on_request(_s: Any, _c: SimpleNamespace, p: Any) -> None:
        tail = p.url.path.rsplit("/", 1)[-1]
        seen[f"{p.method} {tail if len(tail) != 64 else '<sha>'}"] += 1

    async def on_connection(_s: Any, _c: SimpleNamespace, _p: Any) -> None:
        seen["connections"] += 1

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request)
    trace.on_connection_create_end.append(on_connection)
    return trace, seen


async def record(t: Terminal, task_id: str, count: int, size: int = 300_000) -> list[bytes]:
    photos = [random.Random(i).randbytes(size) for i in range(count)]
    for i, data in enumerate(photos):
        await asyncio.to_thread(
            t.store.append,
            task_id=task_id,
            item_id=f"q{i % 3}",
            answer="pass",
            note="",
            inspector_id="insp-007",
            photo=data,
            position=ev.Position(31.2, 121.4, 1, 8, 1.0, 0.2),
            since_contact_s=None,
        )
    return photos


async def test_a_photo_costs_one_request_on_kept_connections(
    inspection_hub: InspectionHub, monkeypatch: Any
) -> None:
    h = inspection_hub
    monkeypatch.setattr(evidence_sync, "BATCH", 5)  # records go in two batches or more
    monkeypatch.setattr(evidence_sync, "FIRST", 5)
    t = h.terminal("insp-trips")
    await h.task("W1", t.device_id)
    await record(t, "W1", 10)
    trace, seen = traced()
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        report = await t.sync.sync_once(session)
    assert report.refused is None and report.acked_through == 10
    assert seen["POST uploads"] == 10  # the creation carries the whole photo
    assert seen["PATCH <sha>"] == 0 and seen["HEAD <sha>"] == 0
    assert seen["POST offsets"] == 1  # one question for all ten photos
    assert seen["POST evidence"] == 2  # five records wait for their photos, then five more
    # the photos in flight at once, and the requests before them, each on a kept connection
    assert seen["connections"] <= evidence_sync.PARALLEL + 1, seen


async def test_offsets_answer_for_many_photos_at_once(inspection_hub: InspectionHub) -> None:
    h = inspection_hub
    t = h.terminal("insp-offsets")
    await h.task("W2", t.device_id)
    whole, partial, unknown = (random.Random(50 + i).randbytes(200_000) for i in range(3))
    shas = [hashlib.sha256(d).hexdigest() for d in (whole, partial, unknown)]
    async with aiohttp.ClientSession() as session:
        report = evidence_sync.SyncReport()
        t.store.put_photo(whole)
        await t.sync.upload_photo(session, shas[0], report)
        photos = h.hub.extensions[INSPECTION].photos
        photos.create(shas[1], len(partial))
        (photos.part(shas[1])).write_bytes(partial[:70_000])
        assert await t.sync.held(session, shas) == {shas[0]: 200_000, shas[1]: 70_000}
        async with session.post(
            h.url + evidence_sync.OFFSETS, json={"sha256": shas}, ssl=t.sync.tls
        ) as resp:
            body = await resp.json()
        assert body["uploads"][shas[1]] == {"offset": 70_000, "length": 200_000}
        # a bad hash is named; no certificate, no answer
        async with session.post(
            h.url + evidence_sync.OFFSETS, json={"sha256": ["../etc"]}, ssl=t.sync.tls
        ) as resp:
            assert resp.status == 400 and "../etc" in (await resp.json())["error"]
        async with session.post(
            h.url + evidence_sync.OFFSETS, json={"sha256": shas}, ssl=h.client_tls
        ) as resp:
            assert resp.status == 401


async def test_tus_head_keeps_its_connection(inspection_hub: InspectionHub) -> None:
    """A HEAD answer without a length made aiohttp open a new TLS connection per photo."""
    h = inspection_hub
    t = h.terminal("insp-head")
    trace, seen = traced()
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        for i in range(5):
            sha = hashlib.sha256(bytes([i])).hexdigest()
            assert await t.sync._offset(session, sha) is None  # 404: unknown
    assert seen["HEAD <sha>"] == 5
    assert seen["connections"] == 1


async def test_a_photo_costs_the_hub_one_thread_call_and_goes_in_pieces(
    inspection_hub: InspectionHub, monkeypatch: Any
) -> None:
    """The hub writes and hashes each piece as it comes and hands only the end of a whole photo
    (fsync, hash check, rename) to a worker thread; the terminal hands the body to its
    connection in pieces of PIECE bytes rather than as one 1.2 MB string."""
    from hub.inspection import uploads

    calls: Counter[str] = Counter()

    class CountingAsyncio:
        def __getattr__(self, name: str) -> Any:
            return getattr(asyncio, name)

        async def to_thread(self, fn: Any, /, *args: Any) -> Any:
            calls[getattr(fn, "__name__", "?")] += 1
            return await asyncio.to_thread(fn, *args)

    monkeypatch.setattr(uploads, "asyncio", CountingAsyncio())
    pieces: list[int] = []

    async def on_chunk(_s: Any, _c: SimpleNamespace, p: Any) -> None:
        pieces.append(len(p.chunk))

    trace = aiohttp.TraceConfig()
    trace.on_request_chunk_sent.append(on_chunk)
    h = inspection_hub
    t = h.terminal("insp-calls")
    photos = [random.Random(70 + i).randbytes(1_200_000) for i in range(3)]
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        report = evidence_sync.SyncReport()
        for data in photos:
            sha = await asyncio.to_thread(t.store.put_photo, data)
            await t.sync.upload_photo(session, sha, report)
    held = h.hub.extensions[INSPECTION].photos
    assert all(held.complete(hashlib.sha256(d).hexdigest()) for d in photos)
    assert sum(calls.values()) == 3, calls  # one per photo: its end
    assert sum(pieces) == 3 * 1_200_000 and max(pieces) <= evidence_sync.PIECE, pieces
