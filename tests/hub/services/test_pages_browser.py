"""The public /verify page and the ratings page in headless Chromium (Debian's) against a real
hub: a valid proof, a forged one and a revoked one, each shown as a clerk must read it; the
ratings of a month per hall. Screenshots are saved (and copied to docs/ when
GOVEDGE_SCREENSHOT_DIR names a directory)."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import zlib
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import base45
import cbor2
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from hub.services.ratings import RatingIn

CHROMIUM = "/usr/bin/chromium"
HALL = "黄浦区政务服务中心"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
def registry_url(tmp_path: Path) -> str:
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
            viewport={"width": 1100, "height": 900},
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
        )
        try:
            yield context  # type: ignore[misc]
        finally:
            await context.close()


async def save(page: Page, tmp_path: Path, name: str) -> None:
    shot = tmp_path / name
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if target := os.environ.get("GOVEDGE_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(target) / name)


def forge(qr: str) -> str:
    """The proof with another holder's name, repacked properly but with the old signature."""
    tagged = cbor2.loads(zlib.decompress(base45.b45decode(qr[4:])))
    protected, unprotected, payload, signature = tagged.value
    doc = cbor2.loads(payload)
    doc["sb"]["nm"] = "赵六"
    forged = cbor2.dumps(
        cbor2.CBORTag(18, [protected, unprotected, cbor2.dumps(doc, canonical=True), signature])
    )
    return "GE1:" + base45.b45encode(zlib.compress(forged)).decode()


async def verify_on_page(page: Page, url: str, qr: str) -> None:
    await page.goto(url + "/verify")
    await page.locator("#qr").fill(qr)
    await page.get_by_role("button", name="核验 Verify").click()


async def test_verify_page_valid_forged_revoked(
    services_hub: Any, proof_body: Any, browser: Any, tmp_path: Path
) -> None:
    sh = await services_hub()
    facts = {"居住地址": "上海市黄浦区人民大道200号"}
    _, valid = await sh.kiosk(
        "POST", "/services/proofs", json=proof_body("b-1", hall=HALL, facts=facts)
    )
    _, revoked = await sh.kiosk(
        "POST", "/services/proofs", json=proof_body("b-2", person=1, hall=HALL)
    )
    status, _ = await sh.admin(
        "POST",
        f"/services/proofs/{revoked['proof_id']}/revoke",
        json={"reason": "申请人申报信息有误 Declared in error"},
    )
    assert status == 200
    page = browser.pages[0] if browser.pages else await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    await verify_on_page(page, sh.rh.url, valid["qr_text"])
    banner = page.locator("#banner")
    await expect(banner).to_have_class("banner valid")
    await expect(page.locator("#verdict")).to_contain_text("有效 VALID")
    await expect(page.locator("#d-title")).to_have_text("居住证明 · Proof of residence")
    await expect(page.locator("#d-subject")).to_contain_text("张三丰")
    await expect(page.locator("#d-subject")).to_contain_text("110105********002X")
    await expect(page.locator("#d-facts")).to_contain_text("人民大道200号")
    await expect(page.locator("#d-issuer")).to_contain_text(HALL)
    await expect(page.locator("#advice")).to_be_hidden()
    await expect(page.locator("#d-revocation")).to_contain_text("未撤销")
    await expect(page.locator("#d-id")).to_have_text(valid["proof_id"])
    await save(page, tmp_path, "verify-valid.png")

    await verify_on_page(page, sh.rh.url, forge(valid["qr_text"]))
    await expect(banner).to_have_class("banner invalid")
    await expect(page.locator("#verdict")).to_contain_text("无效 NOT VALID")
    await expect(page.locator("#reason")).to_contain_text("forged")
    await expect(page.locator("#details")).to_be_hidden()  # a forged text is not shown
    await expect(page.locator("#advice")).to_be_visible()
    await save(page, tmp_path, "verify-forged.png")

    await verify_on_page(page, sh.rh.url, revoked["qr_text"])
    await expect(banner).to_have_class("banner warn")
    await expect(page.locator("#verdict")).to_contain_text("已撤销 REVOKED")
    await expect(page.locator("#d-revocation")).to_contain_text("Declared in error")
    await save(page, tmp_path, "verify-revoked.png")

    await verify_on_page(page, sh.rh.url, "https://example.com/not-a-proof")
    await expect(page.locator("#verdict")).to_contain_text("无法识别")
    assert errors == []


async def test_ratings_page(services_hub: Any, browser: Any, tmp_path: Path) -> None:
    sh = await services_hub()
    shanghai = ZoneInfo("Asia/Shanghai")
    rng = random.Random(3)
    items = []
    halls = {
        "黄浦区政务服务中心": [55, 25, 10, 6, 4],
        "浦东新区政务服务中心": [40, 30, 15, 10, 5],
        "静安区政务服务中心": [65, 20, 8, 5, 2],
    }
    for day in range(2, 28):
        for hall, weights in halls.items():
            for _ in range(rng.randint(8, 20)):
                at = datetime(2026, 11, day, rng.randint(9, 16), tzinfo=shanghai).timestamp()
                level = rng.choices([5, 4, 3, 2, 1], weights=weights)[0]
                tags = rng.sample(
                    ["fast", "friendly", "clear_guide"]
                    if level >= 4
                    else ["long_wait", "unclear_guide", "device_fault"],
                    rng.randint(0, 2),
                )
                items.append((RatingIn(level, hall, "residence-proof", tags), at))
    await asyncio.to_thread(sh.services.ratings.record_many, items, sh.device_id)
    viewer = await asyncio.to_thread(sh.rh.hub.tokens.create, "viewer", "report-reader")
    page = browser.pages[0] if browser.pages else await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(
        f"{sh.rh.url}/services/ratings?token={viewer}&group=hall&since=2026-11-01&until=2026-11-30"
    )
    rows = page.locator("#table tbody tr")
    await expect(rows).to_have_count(3)
    await expect(page.locator("#login")).to_be_hidden()
    first = rows.first
    key = await first.get_attribute("data-key")
    await expect(first.locator("td").nth(1)).to_have_text(
        str(sum(1 for r, _ in items if r.hall == key))
    )
    await expect(page.locator("#totals")).to_contain_text(str(len(items)))
    await save(page, tmp_path, "ratings.png")
    # A kiosk token may not read the report: the page asks for another token.
    await page.goto(f"{sh.rh.url}/services/ratings?token={sh.kiosk_token}")
    await expect(page.locator("#login")).to_be_visible()
    await expect(page.locator("#error")).to_contain_text("Sign in")
    assert errors == []
