"""Application progress through the 一网通办 adapter, against the simulated platform over real
HTTP on loopback: the platform's codes become the hub's timeline; unknown numbers are 404; a
platform fault or a garbled answer is a 502 with a clear error."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sim.platform.server import CST, PlatformSimulator


@pytest.fixture
def registry_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.db'}"


@pytest.fixture
def platform() -> Iterator[PlatformSimulator]:
    with PlatformSimulator(token="s3cret") as sim:
        yield sim


async def test_progress_from_the_platform(services_hub: Any, platform: PlatformSimulator) -> None:
    sh = await services_hub(platform_url=platform.url, platform_token="s3cret")
    start = datetime(2026, 12, 1, 9, 30, tzinfo=CST)
    platform.add("YW-2026-000123", "residence-permit-endorsement", start)
    platform.step("YW-2026-000123", "02", "材料齐全", start + timedelta(hours=1))
    platform.step("YW-2026-000123", "03", at=start + timedelta(days=1))
    platform.step("YW-2026-000123", "04", at=start + timedelta(days=2))
    platform.step("YW-2026-000123", "05", "请到B12窗口领取", start + timedelta(days=2, hours=1))
    status, app = await sh.kiosk(
        "GET", "/services/applications/YW-2026-000123", params={"lang": "en"}
    )
    assert status == 200, app
    assert app["status"] == "ready_for_pickup" and app["status_label"] == "Ready for pickup"
    assert app["errand_name"] == "Residence permit endorsement"
    assert [s["status"] for s in app["timeline"]] == [
        "received",
        "prechecked",
        "under_review",
        "decided",
        "ready_for_pickup",
    ]
    assert app["timeline"][0]["at"] == "2026-12-01T01:30:00Z"  # 09:30 in Shanghai
    assert app["timeline"][-1]["note"] == "请到B12窗口领取"
    status, body = await sh.kiosk("GET", "/services/applications/YW-2026-999999")
    assert status == 404
    platform.garble(True)
    status, body = await sh.kiosk("GET", "/services/applications/YW-2026-000123")
    assert status == 502 and "unreadable" in body["error"]
    platform.garble(False)
    platform.fail_with(500)
    status, body = await sh.kiosk("GET", "/services/applications/YW-2026-000123")
    assert status == 502 and "500" in body["error"]
    assert platform.requests == 4


async def test_platform_down_and_bad_token(services_hub: Any, platform: PlatformSimulator) -> None:
    sh = await services_hub(platform_url=platform.url, platform_token="wrong")
    platform.add("YW-2026-000001", "residence-permit-endorsement")
    status, body = await sh.kiosk("GET", "/services/applications/YW-2026-000001")
    assert status == 502 and "401" in body["error"]
    platform.stop()
    status, body = await sh.kiosk("GET", "/services/applications/YW-2026-000001")
    assert status == 502 and "unreachable" in body["error"]
