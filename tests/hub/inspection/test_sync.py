"""Evidence from terminal to hub over HTTPS with the device certificate, and back out as a case
bundle that verifies offline."""

from __future__ import annotations

import asyncio
import io
import random
import zipfile
from pathlib import Path

import aiohttp

from govedge.contract import evidence as ev
from hub.inspection.api import INSPECTION
from hub.inspection.bundle import verify_bundle

from .conftest import InspectionHub


def photo(i: int, size: int = 50_000) -> bytes:
    return random.Random(i).randbytes(size)


async def test_a_day_offline_then_sync_and_verify(inspection_hub: InspectionHub) -> None:
    """20 tasks, 60 photos, a fix lost in a tunnel, all recorded offline, then one sync."""
    h = inspection_hub
    t = h.terminal("insp-term-01")
    for n in range(20):
        await h.task(f"T{n:02d}", t.device_id)
    # offline: the terminal has its tasks cached from the morning (here: recorded directly)
    n_photo = 0
    for n in range(20):
        for q in range(3):
            tunnel = n == 7  # the fix is lost for task 7
            position = (
                None if tunnel else ev.Position(31.2 + n / 1000, 121.4 + q / 1000, 1, 9, 0.9, 0.4)
            )
            await asyncio.to_thread(
                t.store.append,
                task_id=f"T{n:02d}",
                item_id=f"q{q}",
                answer="fail" if q == 1 else "pass",
                note="出口被杂物堵塞" if q == 1 else "",
                inspector_id="insp-007",
                photo=photo(n_photo),
                position=position,
                since_contact_s=3600.0 + n_photo,
            )
            n_photo += 1
    assert t.store.counts() == {"pending_records": 60, "pending_photos": 60, "acked": 0}
    async with aiohttp.ClientSession() as session:
        report = await t.sync.sync_once(session)
    assert report.refused is None
    assert report.acked_through == 60
    assert report.photos_sent == 60
    assert len(report.tasks) == 20
    assert t.store.counts()["pending_records"] == 0
    assert not list(t.store.photos.iterdir()), "acknowledged photos are dropped"
    # the tunnel's records say they had no fix; the others carry a position
    status, bundle = await h.call("GET", "/api/v1/inspection/tasks/T07/bundle")
    assert status == 200
    report_b = verify_bundle(bundle)
    assert report_b.ok, report_b.text()
    zf = zipfile.ZipFile(io.BytesIO(bundle))
    records = [
        ev.decode(zf.read(n)) for n in zf.namelist() if n.endswith(".json") and "records/" in n
    ]
    assert {r.fix for r in records if r.task_id == "T07"} == {ev.NO_FIX}
    assert all(r.position is None for r in records if r.task_id == "T07")
    # every task's bundle verifies
    for n in range(20):
        status, bundle = await h.call("GET", f"/api/v1/inspection/tasks/T{n:02d}/bundle")
        assert status == 200
        assert verify_bundle(bundle).ok
    assert h.hub.extensions[INSPECTION].counters["records_accepted"] == 60


async def test_terminal_moves_its_task_and_operator_reviews(inspection_hub: InspectionHub) -> None:
    h = inspection_hub
    t = h.terminal("insp-term-02")
    await h.task("R1", t.device_id)
    from edge_agent.evidence.sync import queue_task_state

    queue_task_state(t.store, "R1", "submitted")
    async with aiohttp.ClientSession() as session:
        await t.sync.sync_once(session)
    status, task = await h.call("GET", "/api/v1/inspection/tasks/R1")
    assert task["state"] == "submitted"
    status, task = await h.call(
        "POST", "/api/v1/inspection/tasks/R1/review", json={"verdict": "accept"}
    )
    assert status == 200 and task["state"] == "reviewed"
    status, task = await h.call("POST", "/api/v1/inspection/tasks/R1/close")
    assert status == 200 and task["state"] == "closed"
    status, body = await h.call("POST", "/api/v1/inspection/tasks/R1/close")
    assert status == 409
    status, body = await h.call(
        "POST", "/api/v1/inspection/tasks", json={"site": 3, "lat": 1, "lon": 2}
    )
    assert status == 400 and "site" in body["error"]


async def test_no_certificate_no_sync(inspection_hub: InspectionHub) -> None:
    h = inspection_hub
    async with h.session.get(h.url + "/api/v1/inspection/device/tasks", ssl=h.client_tls) as resp:
        assert resp.status == 401
        assert "certificate" in (await resp.json())["error"]
    # a certificate of another CA is refused at the handshake or by the hub
    other = FleetCAOther(h.base)
    tls = other.client_tls()
    try:
        async with h.session.get(h.url + "/api/v1/inspection/device/tasks", ssl=tls) as resp:
            assert resp.status == 401
    except aiohttp.ClientError:
        pass
    # tus discovery is open: headers alone, outside the JSON API document
    async with h.session.options(h.url + "/api/v1/inspection/uploads", ssl=h.client_tls) as resp:
        assert resp.status == 204
        assert resp.headers["Tus-Version"] == "1.0.0"
        assert "creation-with-upload" in resp.headers["Tus-Extension"]


class FleetCAOther:
    def __init__(self, base: Path) -> None:
        from provisioning.ca import FleetCA, IdentityPaths

        ca = FleetCA.init(base / "other-ca")
        self.paths = ca.issue_device("insp-term-01").write(IdentityPaths(base / "other-id"))
        self.trust = base / "ca" / "chain.pem"

    def client_tls(self):  # type: ignore[no-untyped-def]
        from edge_agent.evidence.sync import device_tls

        return device_tls(self.trust, self.paths.cert, self.paths.key)
