"""The emergency console's defects, each tried as an operator would, in headless Chromium.

At 1366×768 the page fits the window; a token of the wrong role gets a bilingual message and a
way to sign in again (no endless "Connecting", no false "No alarms"); the sign-in banner goes
after a good sign-in; one can sign out; alarms show the rule's name, its message and the value's
unit, with the absolute time on hover; an alarm that clears unacknowledged stays in the alarm
history, filtered by severity, site and time; map labels do not overlap; the legend has every
severity's colour.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, async_playwright, expect

from tests.hub.emergency.test_console_browser import ARGS, CHROMIUM, GAUGES

RULE = {
    "name": "河道水位超警戒 River level above warning",
    "kind": "threshold",
    "metric": "water_level_m",
    "levels": [{"severity": "critical", "raise": 4.5, "clear": 4.2}],
}


@pytest.fixture
def registry_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.db'}"


@pytest.fixture
async def laptop(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
            viewport={"width": 1366, "height": 768},
            locale="zh-CN",
        )
        try:
            yield context
        finally:
            await context.close()


async def test_emergency_console_as_an_operator_tries_it(
    hub_config: Any, start_hub: Any, alarm_writer: Any, laptop: Any, tmp_path: Path
) -> None:
    rh = await start_hub(hub_config())
    writer = alarm_writer(rh.hub.engine)
    await asyncio.to_thread(rh.hub.registry.register_many, GAUGES)
    status, body = await rh.call("PUT", "/api/v1/rules/river-high", json=RULE)
    assert status in (200, 201), body
    emergency = await asyncio.to_thread(rh.hub.tokens.create, "emergency", "duty desk")
    viewer = await asyncio.to_thread(rh.hub.tokens.create, "viewer", "lobby screen")

    page = laptop.pages[0] if laptop.pages else await laptop.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # A token of the wrong role: a clear bilingual message and the sign-in form, no false state.
    await page.goto(f"{rh.url}/emergency?token={viewer}")
    reason = page.get_by_test_id("login-reason")
    await expect(reason).to_contain_text("viewer")
    await expect(reason).to_contain_text("不能使用应急指挥台")
    await expect(reason).to_contain_text("cannot use the emergency console")
    await expect(page.locator("#token-input")).to_be_visible()
    await expect(page.get_by_test_id("link")).to_contain_text("Signed out")
    await expect(page.locator("#no-alarms")).to_be_hidden()

    # Signing in with the right token: the banner and the form go, the feed is live.
    await page.locator("#token-input").fill(emergency)
    await page.locator("#login button[type=submit]").click()
    await expect(page.get_by_test_id("link")).to_contain_text("Live")
    await expect(page.locator("#login")).to_be_hidden()
    await expect(page.locator("#error")).to_be_hidden()
    await expect(page.locator("#no-alarms")).to_be_visible()

    # An alarm shows its rule's name, its message, the value's unit, and the absolute time.
    alarm_id = await asyncio.to_thread(
        writer.raise_alarm, "gauge-huangpu-01", "river-high", "critical", 4.87
    )
    row = page.locator(f'tr.alarm[data-alarm="{alarm_id}"]')
    await expect(row).to_contain_text("River level above warning")
    await expect(row).to_contain_text("river-high on gauge-huangpu-01")  # the message
    await expect(row.locator("td.value")).to_have_text("4.87 m")
    title = await row.locator("time").get_attribute("title")
    assert title and "2" in title and ":" in title  # an absolute date and time on hover

    # Several alarmed sensors close together: their labels do not overlap.
    for gauge in GAUGES[1:]:
        await asyncio.to_thread(writer.raise_alarm, gauge["id"], "river-high", "major", 4.6)
    await expect(page.locator("tr.alarm")).to_have_count(4)
    boxes = [
        await label.bounding_box() for label in await page.locator("#map text.sensor-label").all()
    ]
    assert len(boxes) >= 3
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert a and b
            apart = (
                a["x"] + a["width"] <= b["x"]
                or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"]
                or b["y"] + b["height"] <= a["y"]
            )
            assert apart, (a, b)
    for severity in ("critical", "major", "minor", "warning", "info"):
        await expect(page.locator(f".legend .dot.{severity}")).to_have_count(1)

    # It clears unacknowledged: gone from the list in hand, findable in the history.
    await asyncio.to_thread(writer.clear, alarm_id)
    await expect(row).to_have_count(0)
    hist = page.locator(f'[data-testid="history-row"][data-alarm="{alarm_id}"]')
    await expect(hist).to_contain_text("Cleared unacknowledged")
    await page.get_by_test_id("h-severity").select_option("major")
    await expect(hist).to_have_count(0)
    await page.get_by_test_id("h-severity").select_option("critical")
    await expect(hist).to_have_count(1)
    await page.get_by_test_id("h-site").select_option("jingan")
    await expect(hist).to_have_count(0)
    await page.get_by_test_id("h-site").select_option("huangpu")
    await expect(hist).to_have_count(1)
    await page.get_by_test_id("h-time").select_option("1")
    await expect(hist).to_have_count(1)

    # At 1366×768 the page is no wider than the window.
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1366, width
    shot = tmp_path / "emergency-1366.png"
    await page.screenshot(path=str(shot))
    await page.set_viewport_size({"width": 1920, "height": 1080})
    await asyncio.sleep(0.3)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 1920
    wide = tmp_path / "emergency-1920.png"
    await page.screenshot(path=str(wide))
    if target := os.environ.get("GOVEDGE_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(target) / shot.name)
        shutil.copy(wide, Path(target) / wide.name)

    # Signing out: the form again, and the token is gone from this browser.
    await page.get_by_test_id("signout").click()
    await expect(page.locator("#token-input")).to_be_visible()
    assert await page.evaluate("localStorage.getItem('govedge.token')") is None
    assert errors == []
