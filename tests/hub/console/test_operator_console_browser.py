"""The operator console in headless Chromium against a real hub, broker and simulated fleet.

One operator's shift: find the offline devices of one site; open one device and see its charts;
send a command and watch it reach "acknowledged"; start a rollout to 50 devices, watch the bar
move and halt it when failures pass the limit; rotate a certificate; find each of these in the
audit log. A viewer's token shows no action controls and the server refuses the actions anyway.
Screenshots of every page at 1366×768 and 1920×1080 are kept (and copied to docs/console/ when
GOVEDGE_SCREENSHOT_DIR names a directory).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from sim.fleet.layout import FleetLayout, SimDeviceSpec
from tests.hub.console.conftest import LAPTOP, WALL

SITE = "d0-river"


@pytest.fixture
def registry_url(tmp_path: Path) -> str:
    """The browser tests run once, on SQLite (the API tests cover both databases)."""
    return f"sqlite:///{tmp_path / 'registry.db'}"


async def _shot(page: Page, tmp_path: Path, name: str) -> None:
    for size_name, size in (("1366", LAPTOP), ("1920", WALL)):
        await page.set_viewport_size(size)
        await asyncio.sleep(0.3)  # charts resize on the window's resize event
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"{name} is {width} px wide at {size['width']}"
        shot = tmp_path / f"{name}-{size_name}.png"
        await page.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000
        if target := os.environ.get("GOVEDGE_SCREENSHOT_DIR"):
            shutil.copy(shot, Path(target) / shot.name)
    await page.set_viewport_size(LAPTOP)


async def _setup(rh: Any, sim_fleet: Any, **options: Any) -> dict[str, Any]:
    """290 devices registered: 50 canaries and all but 13 of the layout online (through the
    fleet simulator), 3 of those offline in one site; a kiosk out of paper; a gauge's last 40
    minutes of readings."""
    layout = FleetLayout.generate(240, seed=3, prefix="op")
    specs = list(layout.devices)
    canary = [f"op-canary-{i:02d}" for i in range(50)]
    await asyncio.to_thread(
        rh.hub.registry.register_many,
        [s.registration() for s in specs]
        + [
            {"id": d, "model": "air-station", "site": "d1-station", "labels": {"ring": "canary"}}
            for d in canary
        ],
    )
    river = [s.device_id for s in specs if s.site == SITE]
    others = [s.device_id for s in specs if s.site != SITE]
    offline_river = set(river[:3])
    online = [d for d in river if d not in offline_river] + others[:-10]
    by_id = layout.by_id()
    canary_specs = [
        SimDeviceSpec(d, "air_station", "air-station", "d1", "d1-station", 30.3, 120.2, i)
        for i, d in enumerate(canary)
    ]
    fleet = await sim_fleet([by_id[d] for d in online] + canary_specs, **options)
    kiosk = next(s.device_id for s in specs if s.kind == "kiosk" and s.device_id in online)
    fleet.send_health(kiosk, {"printer": ("user_error", "paper out"), "camera": ("online", "")})
    gauge = river[-1]
    now = time.time()
    for i in range(40, 0, -1):
        fleet.send_reading(gauge, {"water_level_m": 2.0 + i / 100}, now - 60 * i)
    online += canary
    await rh.wait_for(lambda: rh.hub.registry.online_count() >= len(online), timeout=20)
    return {
        "canary": canary,
        "fleet": fleet,
        "offline_river": offline_river,
        "gauge": gauge,
        "kiosk": kiosk,
        "online": online,
        "specs": specs,
    }


async def test_operator_shift(
    hub_config: Any, start_hub: Any, sim_fleet: Any, browser: Any, tmp_path: Path
) -> None:
    rh = await start_hub(hub_config())
    facts = await _setup(rh, sim_fleet, reply_delay_s=0.05)
    fleet = facts["fleet"]
    operator = await asyncio.to_thread(rh.hub.tokens.create, "operator", "duty-operator")

    page = browser.pages[0] if browser.pages else await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{exc}\n{exc.stack}"))
    await page.goto(f"{rh.url}/?token={operator}#/overview")
    await expect(page.get_by_test_id("link")).to_contain_text("Live")
    await expect(page.get_by_test_id("card-offline")).to_contain_text(
        str(290 - len(facts["online"]))
    )
    await expect(page.get_by_test_id("attention-row").first).to_be_visible()
    await expect(page.locator("#attention")).to_contain_text("Paper out")
    await _shot(page, tmp_path, "overview")

    # Find the offline devices of one site, from the site table's offline count.
    await page.locator(f'tr[data-name="{SITE}"]').get_by_test_id("site-offline").click()
    await expect(page.get_by_test_id("device-row")).to_have_count(3)
    shown = {
        await r.get_attribute("data-device") for r in await page.get_by_test_id("device-row").all()
    }
    assert shown == facts["offline_river"]
    await _shot(page, tmp_path, "devices")

    # An offline device: drivers unknown, not "all online".
    offline_id = sorted(facts["offline_river"])[0]
    await page.locator(f'tr[data-device="{offline_id}"] a').click()
    await expect(page.get_by_test_id("drivers-unknown")).to_be_visible()

    # Open the gauge: its chart, downsampled by the store (one point a minute, then 15 min).
    await page.goto(f"{rh.url}/#/device/{facts['gauge']}")
    await expect(page.get_by_test_id("device-title")).to_contain_text(facts["gauge"])
    chart = page.locator('[data-testid="chart"][data-metric="water_level_m"]')
    await expect(chart).to_have_attribute("data-points", "40")
    await page.get_by_test_id("range-day").click()
    await expect(chart).to_have_attribute("data-points", re.compile(r"^[2-4]$"))
    await expect(page.get_by_test_id("latest")).to_contain_text("m")

    # Send a command and watch it reach "acknowledged".
    await page.get_by_test_id("device-command").click()
    await page.get_by_test_id("command-name").select_option("self_test")
    await page.get_by_test_id("command-send").click()
    await expect(page.get_by_test_id("confirm-text")).to_contain_text("to 1 device.")
    await page.get_by_test_id("confirm-ok").click()
    self_test = page.locator('[data-testid="command-row"]', has_text="self_test")
    await expect(self_test).to_have_attribute("data-state", "acknowledged", timeout=15_000)

    # Rotate its certificate: a confirmation naming one device, the command acknowledged.
    await page.get_by_test_id("rotate").click()
    await expect(page.get_by_test_id("confirm-text")).to_contain_text("1 device")
    await page.get_by_test_id("confirm-ok").click()
    rotation = page.locator('[data-testid="command-row"]', has_text="rotate_certificate")
    await expect(rotation).to_have_attribute("data-state", "acknowledged", timeout=15_000)
    assert list(fleet.devices[facts["gauge"]].answers.ran) == ["self_test", "rotate_certificate"]
    await _shot(page, tmp_path, "device")

    # A rollout to the 50 canary devices: the bar moves; failures pass the limit; halted.
    canary = facts["canary"]
    fleet.policy.refuse_configs = set(canary[18:22])  # answered late in the 50 % step
    fleet.reply_delay_s = 0.25
    await page.goto(f"{rh.url}/#/devices?label=ring%3Dcanary")
    await expect(page.get_by_test_id("shown")).to_contain_text("of 50")
    await page.get_by_test_id("act-rollout").click()
    await page.get_by_test_id("rollout-steps").fill("10,50,100")
    await page.get_by_test_id("rollout-max").fill("2")
    await page.get_by_test_id("rollout-start").click()
    await expect(page.get_by_test_id("confirm-text")).to_contain_text("to 50 devices")
    await page.get_by_test_id("confirm-ok").click()
    bar = page.get_by_test_id("rollout-bar").first
    await expect(bar).to_be_visible()
    seen: set[float] = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        seen.add(float(await bar.get_attribute("data-done") or 0))
        if await page.get_by_test_id("failure").count() > 2:
            break
        await asyncio.sleep(0.1)
    assert len([v for v in seen if 0 < v < 100]) >= 2, seen  # the bar moved, live
    ro_row = page.get_by_test_id("rollout-row").first
    state = await ro_row.get_attribute("data-state")
    if state == "running":  # the operator halts it before the hub's own limit check
        await ro_row.get_by_test_id("halt").click()
        await expect(page.get_by_test_id("confirm-text")).to_contain_text("50 devices")
        await page.get_by_test_id("confirm-ok").click()
    await expect(ro_row).to_have_attribute("data-state", "halted", timeout=10_000)
    await expect(ro_row.get_by_test_id("resume")).to_be_visible()
    rollout_id = await ro_row.get_attribute("data-rollout")
    ro = await rh.get(f"/api/v1/rollouts/{rollout_id}")
    assert ro["state"] == "halted" and ro["progress"]["failed"] > 2
    assert ro["progress"]["applied"] + ro["progress"]["failed"] < 50  # the last step never went
    await _shot(page, tmp_path, "rollouts")

    # An operator cannot read the audit log; an admin finds every action there, with who
    # and how many devices.
    await page.goto(f"{rh.url}/#/audit")
    await expect(page.locator("main")).to_contain_text("Only an admin")
    await page.goto(f"{rh.url}/?token={rh.admin_token}#/audit")
    rows = page.get_by_test_id("audit-row")
    created = rows.filter(has=page.get_by_text("POST /rollouts", exact=True))
    await expect(created).to_have_count(1)
    await expect(created).to_contain_text("50 devices")
    await expect(rows.filter(has_text="50 devices").first).to_be_visible()
    await expect(rows.filter(has_text="rotate_certificate")).to_have_count(1)
    await expect(rows.filter(has_text="self_test")).to_have_count(1)
    await expect(rows.first).to_contain_text("duty-operator")
    await page.get_by_test_id("audit-q").fill("rotate_certificate")
    await page.get_by_test_id("audit-q").press("Enter")
    await expect(rows).to_have_count(1)
    await page.get_by_test_id("audit-q").fill("")
    await page.get_by_test_id("audit-actor").fill("duty-operator")
    await page.get_by_test_id("audit-since").select_option("-1h")
    await expect(rows.filter(has_text="rotate_certificate")).to_have_count(1)
    await expect(rows.filter(has=page.get_by_text("POST /rollouts", exact=True))).to_have_count(1)
    shown = await rows.count()
    assert shown >= 3 and await rows.filter(has_text="duty-operator").count() == shown
    await _shot(page, tmp_path, "audit")
    assert errors == []


async def test_viewer_sees_no_action_controls(
    hub_config: Any, start_hub: Any, sim_fleet: Any, browser: Any, tmp_path: Path
) -> None:
    rh = await start_hub(hub_config())
    facts = await _setup(rh, sim_fleet)
    viewer = await asyncio.to_thread(rh.hub.tokens.create, "viewer", "wall-screen")
    page = browser.pages[0] if browser.pages else await browser.new_page()
    await page.goto(f"{rh.url}/?token={viewer}#/devices")
    await expect(page.get_by_test_id("device-row").first).to_be_visible()
    assert not await page.get_by_test_id("act-command").is_visible()
    assert not await page.get_by_test_id("act-rollout").is_visible()
    await page.goto(f"{rh.url}/#/device/{facts['gauge']}")
    await expect(page.get_by_test_id("device-title")).to_be_visible()
    for control in ("device-command", "rotate", "revoke", "set-config"):
        assert not await page.get_by_test_id(control).is_visible(), control
    assert not await page.locator('#nav a[data-view="audit"]').is_visible()
    # The server refuses the actions anyway, and the refusal is in the audit log.
    status, _ = await rh.call(
        "POST",
        "/api/v1/commands",
        token=viewer,
        json={"name": "ping", "selector": {"ids": [facts["gauge"]]}},
    )
    assert status == 403
    audit = await rh.get("/api/v1/audit", q="/commands")
    assert audit["items"][0]["status"] == 403 and audit["items"][0]["actor"] == "wall-screen"

    # Switching tokens: sign out, a kiosk token is refused with a clear message, then sign in.
    await page.get_by_test_id("signout").click()
    await expect(page.locator("#login")).to_be_visible()
    kiosk = await asyncio.to_thread(rh.hub.tokens.create, "kiosk", facts["kiosk"])
    await page.locator("#token-input").fill(kiosk)
    await page.get_by_test_id("sign-in").click()
    await expect(page.get_by_test_id("login-reason")).to_contain_text("(kiosk)")
    await page.locator("#token-input").fill(rh.admin_token)
    await page.get_by_test_id("sign-in").click()
    await expect(page.locator("#login")).to_be_hidden()
    await expect(page.get_by_test_id("whoami")).to_have_text("admin")
    await expect(page.get_by_test_id("set-config")).to_be_visible()

    # 中文: every label of the page switches, and the choice is kept.
    await page.get_by_test_id("lang").click()
    await expect(page.locator('#nav a[data-view="devices"]')).to_have_text("设备")
    await expect(page.get_by_test_id("set-config")).to_have_text("设置配置")
    # The header's live counts switch at once, not at the next update.
    await expect(page.get_by_test_id("count-offline")).to_contain_text("离线")
    await page.reload()
    await expect(page.get_by_test_id("rotate")).to_have_text("轮换证书")
    await page.goto(f"{rh.url}/#/overview")
    await expect(page.get_by_test_id("card-offline")).to_contain_text("离线")
    await _shot(page, tmp_path, "overview-zh")
