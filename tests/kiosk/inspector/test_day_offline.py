"""A day of inspections on the real terminal path, offline: tasks fetched in the morning, then
no network; 20 tasks, 60 photos from the camera, the fix from the GNSS receiver lost in a tunnel
for one task; then the link comes back and one sync brings everything to the hub, where every
case's bundle verifies."""

from __future__ import annotations

import json
import subprocess
import time
import zipfile
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest

from govedge.broker import free_port, wait_for_port
from hub.inspection.bundle import verify_bundle
from kiosk.inspector.client import LocalApiClient
from sim.inspector.hub import InspectionHubThread
from sim.inspector.rig import InspectorRig

DEVICE = "insp-day-1"


class Link:
    """socat between the terminal and the hub: stopping it is the lost signal."""

    def __init__(self, target: int) -> None:
        self.port = free_port()
        self.target = target
        self.proc: subprocess.Popen[bytes] | None = None

    def up(self) -> None:
        self.proc = subprocess.Popen(
            [
                "socat",
                f"TCP-LISTEN:{self.port},bind=127.0.0.1,reuseaddr,fork",
                f"TCP:127.0.0.1:{self.target}",
            ]
        )
        assert wait_for_port("127.0.0.1", self.port, 5)

    def down(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None


@pytest.fixture
def day(tmp_path: Path) -> Iterator[tuple[InspectionHubThread, InspectorRig, Link]]:
    hub = InspectionHubThread(tmp_path / "hub").start()
    assert hub.ca is not None
    link = Link(int(hub.url.rsplit(":", 1)[1]))
    link.up()
    rig = InspectorRig(
        tmp_path / "terminal",
        device_id=DEVICE,
        hub_url=f"https://127.0.0.1:{link.port}",
        ca=hub.ca,
        hub_ca_file=str(hub.ca.chain_path),
    )
    try:
        rig.start()
        yield hub, rig, link
    finally:
        rig.stop()
        link.down()
        hub.stop()


def _wait(check, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_a_day_offline_through_the_terminal(day) -> None:  # type: ignore[no-untyped-def]
    hub, rig, link = day
    for n in range(20):
        hub.call(
            "POST",
            "/api/v1/inspection/tasks",
            {
                "id": f"D{n:02d}",
                "site": f"site {n}",
                "lat": 31.23,
                "lon": 121.47,
                "checklist": [{"id": f"q{i}", "text": f"item {i}"} for i in range(3)],
                "due": "2026-12-07",
                "inspector_id": "insp-007",
                "device_id": DEVICE,
            },
        )
    api = LocalApiClient(rig.api_url, rig.token)
    api.sync()  # the morning, in the office
    _wait(lambda: len(api.tasks()["items"]) == 20)
    link.down()  # out in the district: no network for the rest of the day
    results = []
    for n in range(20):
        if n == 7:
            rig.tunnel(True)
            _wait(lambda: not api.fix()["fix"], 10)
        for q in range(3):
            out = api.record(
                task_id=f"D{n:02d}",
                item_id=f"q{q}",
                answer="fail" if q == 2 else "pass",
                note="",
                inspector_id="insp-007",
                photo=True,
            )
            results.append((n, out))
        if n == 7:
            rig.tunnel(False)
            _wait(lambda: api.fix()["fix"], 10)
        api.set_state(f"D{n:02d}", "submitted")
    assert [o["fix"] for n, o in results if n == 7] == [False] * 3
    assert all(o["fix"] for n, o in results if n != 7)
    assert len({o["photo_sha256"] for _, o in results}) == 60  # 60 distinct photos
    api.sync()  # an attempt while offline fails and keeps everything
    _wait(lambda: api.status()["last_sync"].get("error"))
    status = api.status()
    assert status["pending_records"] == 60 and status["pending_photos"] == 60
    link.up()  # back in range
    api.sync()
    _wait(lambda: api.status()["last_sync"].get("ok"), 120)
    assert api.status()["pending_records"] == 0
    for n in range(20):
        task = hub.call("GET", f"/api/v1/inspection/tasks/D{n:02d}")
        assert task["state"] == "submitted"
        bundle = hub.call("GET", f"/api/v1/inspection/tasks/D{n:02d}/bundle")
        report = verify_bundle(bundle)
        assert report.ok, report.text()
        manifest = json.loads(zipfile.ZipFile(BytesIO(bundle)).read("manifest.json"))
        assert len(manifest["photos"]) == 3
        if n == 7:
            records = [
                json.loads(zipfile.ZipFile(BytesIO(bundle)).read(f"records/{r['seq']}.json"))
                for r in manifest["records"]
            ]
            assert {r["fix"] for r in records} == {"no_fix"}
            assert all(r["position"] is None for r in records)
            assert all(r["since_contact_s"] > 0 for r in records)
