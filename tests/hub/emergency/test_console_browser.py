"""The emergency console in headless Chromium (Debian's) against a real hub.

The page sees an alarm appear live over the WebSocket, acknowledges it, assigns it to the
nearest team and moves it on; the screenshot is saved (and copied to docs/ when
GOVEDGE_SCREENSHOT_DIR names a directory).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, async_playwright, expect

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

GAUGES = [
    {
        "id": "gauge-huangpu-01",
        "model": "water-level",
        "site": "huangpu",
        "lat": 31.2400,
        "lon": 121.4900,
    },
    {
        "id": "gauge-huangpu-02",
        "model": "water-level",
        "site": "huangpu",
        "lat": 31.2250,
        "lon": 121.4750,
    },
    {
        "id": "gauge-suzhou-03",
        "model": "water-level",
        "site": "jingan",
        "lat": 31.2480,
        "lon": 121.4550,
    },
    {
        "id": "smoke-lujiazui-07",
        "model": "smoke",
        "site": "pudong",
        "lat": 31.2360,
        "lon": 121.5050,
    },
]
RESOURCES = [
    {
        "kind": "team",
        "name": "黄浦救援一队 Huangpu rescue 1",
        "location": {"lat": 31.2380, "lon": 121.4860},
        "capacity": 12,
        "contact": "021-5550-0101",
    },
    {
        "kind": "team",
        "name": "浦东消防 Pudong fire",
        "location": {"lat": 31.2300, "lon": 121.5150},
        "capacity": 20,
    },
    {
        "kind": "supply",
        "name": "沙袋 Sandbags",
        "location": {"lat": 31.2320, "lon": 121.4800},
        "capacity": 2000,
        "available": 1500,
        "unit": "bags",
    },
    {
        "kind": "shelter",
        "name": "第三中学 No. 3 school",
        "location": {"lat": 31.2200, "lon": 121.4600},
        "capacity": 300,
        "available": 260,
        "unit": "beds",
    },
]


@pytest.fixture
def registry_url(tmp_path: Path) -> str:
    """The browser test runs once, on SQLite (the API is covered on both databases)."""
    return f"sqlite:///{tmp_path / 'registry.db'}"


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
            viewport={"width": 1920, "height": 820},
            locale="zh-CN",
        )
        try:
            yield context  # type: ignore[misc]
        finally:
            await context.close()


async def test_console_live_alarm_ack_assign(
    hub_config: Any, start_hub: Any, alarm_writer: Any, browser: Any, tmp_path: Path
) -> None:
    rh = await start_hub(hub_config())
    writer = alarm_writer(rh.hub.engine)
    await asyncio.to_thread(rh.hub.registry.register_many, GAUGES)
    for res in RESOURCES:
        status, body = await rh.call("POST", "/api/v1/resources", json=res)
        assert status == 201, body
    emergency = await asyncio.to_thread(rh.hub.tokens.create, "emergency", "duty desk")
    earlier = await asyncio.to_thread(
        writer.raise_alarm, "smoke-lujiazui-07", "smoke-detected", "warning", 0.4
    )

    page = browser.pages[0] if browser.pages else await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{rh.url}/emergency?token={emergency}")
    await expect(page.get_by_test_id("link")).to_contain_text("Live")
    assert page.url.endswith("/emergency")  # the token left the address bar
    await expect(page.locator(f'tr[data-alarm="{earlier}"]')).to_be_visible()
    await expect(page.get_by_test_id("resource")).to_have_count(4)
    await expect(page.locator("circle.sensor")).to_have_count(4)

    # An alarm raised now appears live, and its sensor turns red on the map.
    alarm_id = await asyncio.to_thread(
        writer.raise_alarm, "gauge-huangpu-01", "water-level-high", "critical", 4.87
    )
    row = page.locator(f'tr[data-alarm="{alarm_id}"]')
    await expect(row).to_be_visible()
    await expect(row).to_contain_text("gauge-huangpu-01")
    await expect(row).to_contain_text("4.87")
    await expect(page.locator('circle.critical[data-device="gauge-huangpu-01"]')).to_be_visible()

    # Select it: the nearest resources, nearest first.
    await row.locator("td").first.click()
    await expect(page.get_by_test_id("nearest").first).to_contain_text("Huangpu rescue 1")

    await row.get_by_test_id("ack").click()
    await expect(row).to_contain_text("Acknowledged")
    await expect(row.get_by_test_id("ack")).to_be_disabled()

    await row.get_by_test_id("team").select_option(label="黄浦救援一队 Huangpu rescue 1")
    await row.get_by_test_id("assign").click()
    await expect(row.get_by_test_id("dispatch")).to_contain_text("Assigned")
    await expect(row.get_by_test_id("dispatch")).to_contain_text("Huangpu rescue 1")
    await row.get_by_test_id("advance").click()
    await expect(row.get_by_test_id("dispatch")).to_contain_text("En route")

    # The server holds what the page shows.
    alarm = (await rh.get("/api/v1/feed/snapshot"))["items"]
    mine = next(a for a in alarm if a["id"] == alarm_id)
    assert mine["acknowledged"] and mine["dispatch_state"] == "en_route"
    assert (await asyncio.to_thread(writer.event_kinds, alarm_id)) == [
        "raised",
        "acknowledged",
        "assigned",
        "dispatch",
    ]

    # A second live alarm, escalation of the first shows too.
    second = await asyncio.to_thread(
        writer.raise_alarm, "gauge-suzhou-03", "water-level-high", "major", 3.92
    )
    await expect(page.locator(f'tr[data-alarm="{second}"]')).to_be_visible()
    await row.locator("td").first.click()
    shot = tmp_path / "emergency-console.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if target := os.environ.get("GOVEDGE_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(target) / "emergency-console.png")
    assert errors == []
