"""Inspection tasks in the operator console, in headless Chromium against a real hub (broker,
fleet CA) to which inspector terminals sync real signed evidence over HTTPS with their device
certificates.

An operator filters the tasks, creates one through the form (cancelling the first
confirmation), reassigns it to another terminal, opens a case whose evidence verifies (photo
previews, a record without a fix) and downloads its bundle, which verifies offline; opens a case
whose photo was altered at rest on the hub (the first bad record named) and whose terminal has a
refused record waiting; reviews and closes a submitted task. A viewer sees no action controls
and the hub refuses the actions anyway. Screenshots at 1366×768 and 1920×1080 (copied to
docs/console/ when GOVEDGE_SCREENSHOT_DIR names a directory).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Page, expect

import hub.app
from edge_agent.evidence.sync import queue_task_state
from govedge.broker import free_port
from govedge.contract import evidence as ev
from hub.context import HUB_KEY
from hub.inspection.api import INSPECTION
from hub.inspection.bundle import verify_bundle
from provisioning.ca import FleetCA
from provisioning.keys import write_private_key, write_public
from tests.hub.console.test_operator_console_browser import _shot
from tests.hub.inspection.conftest import InspectionHub, Terminal


@pytest.fixture
def registry_url(tmp_path: Path) -> str:
    """The browser tests run once, on SQLite (the API tests cover both databases)."""
    return f"sqlite:///{tmp_path / 'registry.db'}"


class ConsoleHub(InspectionHub):
    console_url: str = ""


@pytest.fixture
async def console_hub(tmp_path: Path, hub_config: Any) -> AsyncIterator[ConsoleHub]:
    """The whole hub (every extension, the broker link) with a fleet CA: HTTPS that asks for
    client certificates for the terminals, and plain HTTP on localhost for the browser."""
    ca = FleetCA.init(tmp_path / "ca")
    https = ca.issue_server(["127.0.0.1"], common_name="govedge-hub")
    assert https.key is not None
    write_private_key(tmp_path / "hub-https" / "key.pem", https.key)
    write_public(tmp_path / "hub-https" / "cert.pem", https.fullchain_pem())
    (tmp_path / "hub").mkdir()
    config = hub_config(ca_dir=str(ca.directory))
    app = hub.app.create_app(config)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(
        tmp_path / "hub-https" / "cert.pem", tmp_path / "hub-https" / "key.pem"
    )
    server_tls.verify_mode = ssl.CERT_OPTIONAL
    server_tls.load_verify_locations(cafile=str(ca.chain_path))
    runner = web.AppRunner(app)
    await runner.setup()
    https_port, http_port = free_port(), free_port()
    await web.TCPSite(runner, "127.0.0.1", https_port, ssl_context=server_tls).start()
    await web.TCPSite(runner, "127.0.0.1", http_port).start()
    the_hub = app[HUB_KEY]
    assert await asyncio.to_thread(the_hub.link.connected.wait, 10)
    admin = await asyncio.to_thread(the_hub.tokens.create, "admin", "tests")
    session = aiohttp.ClientSession()
    h = ConsoleHub(
        tmp_path,
        ca,
        the_hub,
        f"https://127.0.0.1:{https_port}",
        admin,
        ssl.create_default_context(cafile=str(ca.chain_path)),
        session,
        https_port,
    )
    h.console_url = f"http://127.0.0.1:{http_port}"
    yield h
    await session.close()
    await runner.cleanup()


def jpeg(seed: int) -> bytes:
    """A real photo-like JPEG (the hub makes previews of it)."""
    from PIL import Image, ImageDraw

    rnd = random.Random(seed)
    image = Image.new("RGB", (800, 600), (rnd.randrange(90, 160),) * 3)
    draw = ImageDraw.Draw(image)
    draw.rectangle((300, 120, 500, 560), fill=(30, 110, 60))  # a door
    for _ in range(12):  # what blocks it
        x, y = rnd.randrange(250, 520), rnd.randrange(380, 560)
        draw.rectangle((x, y, x + 80, y + 50), fill=(rnd.randrange(256), 90, 40))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


async def record(
    t: Terminal, task_id: str, item: str, answer: str, seed: int, fix: bool = True, note: str = ""
) -> None:
    await asyncio.to_thread(
        t.store.append,
        task_id=task_id,
        item_id=item,
        answer=answer,
        note=note,
        inspector_id="insp-007",
        photo=jpeg(seed),
        position=ev.Position(31.23052, 121.47391, 1, 9, 0.8, 0.3) if fix else None,
        since_contact_s=5400.0,
    )


async def sync(t: Terminal) -> Any:
    async with aiohttp.ClientSession() as session:
        return await t.sync.sync_once(session)


FIRE_CHECKS = ["安全出口畅通", "应急照明正常", "灭火器在有效期内"]


async def make_task(
    h: ConsoleHub,
    task_id: str,
    device_id: str,
    site: str,
    checks: list[str],
    due: str = "2026-12-08",
    inspector: str = "insp-007",
    at: tuple[float, float] = (31.2304, 121.4737),
) -> None:
    status, body = await h.call(
        "POST",
        "/api/v1/inspection/tasks",
        json={
            "id": task_id,
            "site": site,
            "lat": at[0],
            "lon": at[1],
            "checklist": [
                {"id": f"q{i}", "text": text, "photo_required": True}
                for i, text in enumerate(checks)
            ],
            "due": due,
            "inspector_id": inspector,
            "device_id": device_id,
        },
    )
    assert status == 201, body


async def _setup(h: ConsoleHub) -> dict[str, Any]:
    a, b = h.terminal("insp-term-01"), h.terminal("insp-term-02")
    await make_task(h, "T-0101", a.device_id, "南京东路 300 号商场", FIRE_CHECKS)  # verifies
    await make_task(h, "T-0102", a.device_id, "福州路书城", FIRE_CHECKS, due="2026-12-11")
    await make_task(  # a photo altered at rest on the hub
        h, "T-0201", b.device_id, "苏州河排污口 7 号", ["排口有无异味", "水体颜色", "周边垃圾"]
    )
    await make_task(
        h,
        "T-0301",
        b.device_id,
        "滨江路路灯",
        ["路灯是否亮"],
        due="2026-12-09",
        inspector="insp-009",
        at=(31.24, 121.49),
    )
    await record(a, "T-0101", "q0", "pass", 1)
    await record(a, "T-0101", "q1", "fail", 2, note="安全出口被杂物堵塞")
    await record(a, "T-0101", "q2", "pass", 3, fix=False)  # in the car park: no fix
    queue_task_state(a.store, "T-0101", "submitted")
    assert (await sync(a)).acked_through == 3
    queue_task_state(b.store, "T-0201", "in_progress")
    await record(b, "T-0201", "q0", "pass", 4)
    await record(b, "T-0201", "q1", "fail", 5)
    assert (await sync(b)).acked_through == 2
    await expect_state(h, "T-0201", "in_progress")
    # someone changes the second photo at rest on the hub
    held = h.hub.extensions[INSPECTION].photos.path(hashlib.sha256(jpeg(5)).hexdigest())
    held.write_bytes(jpeg(6))
    # and a photo is changed on terminal B after recording: the hub refuses its record
    await record(b, "T-0201", "q2", "pass", 7)
    (b.store.photo_path(hashlib.sha256(jpeg(7)).hexdigest())).write_bytes(jpeg(8))
    report = await sync(b)
    assert report.refused is not None and report.refused["seq"] == 3
    return {"a": a, "b": b}


async def expect_state(h: ConsoleHub, task_id: str, state: str) -> None:
    assert (await h.call("GET", f"/api/v1/inspection/tasks/{task_id}"))[1]["state"] == state


async def _open(page: Page, url: str) -> None:
    await page.goto(url)
    await expect(page.get_by_test_id("link")).to_contain_text("Live")


async def test_operator_works_inspection_tasks(
    console_hub: ConsoleHub, browser: Any, tmp_path: Path
) -> None:
    h = console_hub
    await _setup(h)
    operator = await asyncio.to_thread(h.hub.tokens.create, "operator", "duty-operator")
    page = browser.pages[0] if browser.pages else await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await _open(page, f"{h.console_url}/?token={operator}#/tasks")
    rows = page.get_by_test_id("task-row")
    await expect(rows).to_have_count(4)
    await expect(page.locator('#nav a[data-view="tasks"]')).to_have_class("active")
    await expect(page.locator('tr[data-task="T-0101"]')).to_contain_text("3 records · 3 photos")
    await expect(page.locator('tr[data-task="T-0101"]')).to_contain_text("Submitted")

    # Filters: by state, by site, by assignee (the terminal or the inspector).
    await page.get_by_test_id("task-filter-state").select_option("submitted")
    await expect(rows).to_have_count(1)
    await page.get_by_test_id("task-filter-state").select_option("")
    await page.get_by_test_id("task-filter-site").select_option("滨江路路灯")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-task", "T-0301")
    await page.get_by_test_id("task-filter-site").select_option("")
    await page.get_by_test_id("task-filter-assignee").select_option("insp-term-02")
    await expect(rows).to_have_count(2)
    await page.get_by_test_id("task-filter-assignee").select_option("insp-009")
    await expect(rows).to_have_count(1)
    await page.goto(f"{h.console_url}/#/tasks")
    await expect(rows).to_have_count(4)
    await _shot(page, tmp_path, "tasks")

    # A new task: the form, a confirmation that names it; cancel creates nothing.
    await page.get_by_test_id("task-new").click()
    await page.get_by_test_id("new-site").fill("人民广场地下通道")
    await page.get_by_test_id("new-lat").fill("31.2317")
    await page.get_by_test_id("new-lon").fill("121.4752")
    await page.get_by_test_id("new-due").fill("2026-12-10")
    await page.get_by_test_id("new-inspector").fill("insp-011")
    await page.get_by_test_id("new-device").fill("insp-term-01")
    await page.get_by_test_id("new-id").fill("T-0401")
    await page.get_by_test_id("new-checklist").fill("消防通道畅通\n应急照明正常\n灭火器在有效期内")
    await _shot(page, tmp_path, "task-new")
    await page.get_by_test_id("new-create").click()
    await expect(page.get_by_test_id("confirm-text")).to_contain_text("人民广场地下通道")
    await expect(page.get_by_test_id("confirm-text")).to_contain_text("3 checks")
    await expect(page.get_by_test_id("confirm-text")).to_contain_text("insp-term-01")
    await page.get_by_test_id("confirm-cancel").click()
    assert (await h.call("GET", "/api/v1/inspection/tasks?device_id=insp-term-01"))[1]["items"] == [
        (await h.call("GET", "/api/v1/inspection/tasks/T-0101"))[1],
        (await h.call("GET", "/api/v1/inspection/tasks/T-0102"))[1],
    ]
    await page.get_by_test_id("new-create").click()
    await page.get_by_test_id("confirm-ok").click()
    await expect(page.get_by_test_id("task-terminal")).to_have_text("insp-term-01")
    status, task = await h.call("GET", "/api/v1/inspection/tasks/T-0401")
    assert status == 200 and task["state"] == "assigned" and task["inspector_id"] == "insp-011"
    assert [c["text"] for c in task["checklist"]][1] == "应急照明正常"
    assert all(c["photo_required"] for c in task["checklist"])
    await expect(page.get_by_test_id("no-evidence")).to_be_visible()

    # Reassign it to the other terminal (confirmed); the task starts again at Assigned.
    await page.get_by_test_id("task-reassign").click()
    await page.get_by_test_id("assign-device").fill("insp-term-02")
    await page.get_by_test_id("assign-send").click()
    await expect(page.get_by_test_id("confirm-text")).to_contain_text("insp-term-02")
    await page.get_by_test_id("confirm-ok").click()
    await expect(page.get_by_test_id("task-terminal")).to_have_text("insp-term-02")
    assert (await h.call("GET", "/api/v1/inspection/tasks/T-0401"))[1]["device_id"] == (
        "insp-term-02"
    )

    # A case that verifies: previews of its photos, the record without a fix says so.
    await page.goto(f"{h.console_url}/#/tasks/T-0101")
    await expect(page.get_by_test_id("verdict")).to_have_attribute("data-ok", "true")
    await expect(page.get_by_test_id("verdict")).to_contain_text("3 records signed and chained")
    await expect(page.get_by_test_id("task-facts")).to_contain_text("31.23040, 121.47370")
    await expect(page.get_by_test_id("record-row")).to_have_count(3)
    await expect(page.get_by_test_id("thumb-img")).to_have_count(3)
    for img in await page.get_by_test_id("thumb-img").all():
        await expect(img).to_have_js_property("complete", True)
        assert await img.evaluate("i => i.naturalWidth") == 320

    def position(seq: int) -> Any:
        return page.locator(f'tr[data-seq="{seq}"]').get_by_test_id("record-position")

    await expect(position(3)).to_contain_text("No fix")
    await expect(page.locator('tr[data-seq="2"]')).to_contain_text("安全出口被杂物堵塞")
    await expect(position(1)).to_contain_text("24 m from the site")
    await page.get_by_test_id("thumb").nth(1).click()
    await expect(page.get_by_test_id("photo-view").locator("img")).to_be_visible()
    await page.get_by_test_id("photo-view").click()
    await expect(page.get_by_test_id("photo-view")).to_have_count(0)
    async with page.expect_download() as download_info:
        await page.get_by_test_id("bundle").click()
    download = await download_info.value
    assert download.suggested_filename == "evidence-T-0101.zip"
    bundle_path = tmp_path / "bundle.zip"
    await download.save_as(bundle_path)
    report = verify_bundle(bundle_path.read_bytes())
    assert report.ok, report.text()
    await _shot(page, tmp_path, "task-case")

    # Review and close the submitted task, each confirmed.
    await page.get_by_test_id("review-note").fill("证据齐全")
    await page.get_by_test_id("review-accept").click()
    await page.get_by_test_id("confirm-ok").click()
    await expect(page.get_by_test_id("task-state")).to_have_text("Reviewed")
    await page.get_by_test_id("task-close").click()
    await page.get_by_test_id("confirm-ok").click()
    await expect(page.get_by_test_id("task-state")).to_have_text("Closed")
    assert (await h.call("GET", "/api/v1/inspection/tasks/T-0101"))[1]["review_note"] == "证据齐全"

    # A case whose photo was changed at rest on the hub: the first bad record is named; its
    # terminal's refused record is shown too.
    await page.goto(f"{h.console_url}/#/tasks/T-0201")
    verdict = page.get_by_test_id("verdict")
    await expect(verdict).to_have_attribute("data-ok", "false")
    await expect(verdict).to_have_attribute("data-bad-seq", "2")
    await expect(verdict).to_contain_text("record seq 2")
    await expect(verdict).to_contain_text("altered")
    await expect(page.get_by_test_id("refusal")).to_contain_text("seq 3")
    await page.goto(f"{h.console_url}/#/tasks")
    refused_row = page.locator('tr[data-task="T-0201"]')
    await expect(refused_row.get_by_test_id("task-refused")).to_be_visible()
    await expect(page.get_by_test_id("task-refused")).to_have_count(1)
    await page.goto(f"{h.console_url}/#/tasks/T-0201")
    await expect(page.locator('tr[data-seq="2"]')).to_have_class("refused")
    await expect(page.get_by_test_id("verdict")).to_be_visible()
    await _shot(page, tmp_path, "task-case-bad")

    # 中文
    await page.get_by_test_id("lang").click()
    await expect(page.locator('#nav a[data-view="tasks"]')).to_have_text("巡检任务")
    await expect(page.get_by_test_id("verdict")).to_contain_text("第一条问题记录")
    await page.goto(f"{h.console_url}/#/tasks")
    await expect(page.locator('tr[data-task="T-0101"]')).to_contain_text("已关闭")
    await _shot(page, tmp_path, "tasks-zh")
    await page.get_by_test_id("lang").click()
    assert errors == []


POST_AS_PAGE = """async ([path, body]) => (await fetch('/api/v1' + path, {method: 'POST',
    headers: {Authorization: 'Bearer ' + localStorage.getItem('govedge.operator.token'),
              'Content-Type': 'application/json'}, body: JSON.stringify(body)})).status"""
"""A POST with the page's own token, as a hand-made request from the browser would be."""


async def test_viewer_sees_tasks_without_action_controls(
    console_hub: ConsoleHub, browser: Any
) -> None:
    h = console_hub
    facts = await _setup(h)
    viewer = await asyncio.to_thread(h.hub.tokens.create, "viewer", "wall-screen")
    page = browser.pages[0] if browser.pages else await browser.new_page()
    await _open(page, f"{h.console_url}/?token={viewer}#/tasks")
    await expect(page.get_by_test_id("task-row")).to_have_count(4)
    await expect(page.get_by_test_id("whoami")).to_have_text("viewer")
    assert not await page.get_by_test_id("task-new").is_visible()
    await page.goto(f"{h.console_url}/#/tasks/T-0102")
    await expect(page.get_by_test_id("no-evidence")).to_be_visible()
    assert not await page.get_by_test_id("task-reassign").is_visible()
    await page.goto(f"{h.console_url}/#/tasks/T-0101")
    await expect(page.get_by_test_id("verdict")).to_have_attribute("data-ok", "true")
    await expect(page.get_by_test_id("bundle")).to_be_visible()  # reading is a viewer's right
    await expect(page.get_by_test_id("thumb-img")).to_have_count(3)
    for control in ("review-accept", "review-reject", "review-note"):
        assert not await page.get_by_test_id(control).is_visible(), control
    # the hub refuses a viewer's changes whatever the page shows
    for path, body in (
        ("/inspection/tasks", {"site": "x"}),
        ("/inspection/tasks/T-0102/assign", {"device_id": facts["b"].device_id}),
        ("/inspection/tasks/T-0101/review", {"verdict": "accept"}),
    ):
        status = await page.evaluate(POST_AS_PAGE, [path, body])
        assert status == 403, path
    assert (await h.call("GET", "/api/v1/inspection/tasks/T-0102"))[1]["device_id"] == (
        "insp-term-01"
    )
