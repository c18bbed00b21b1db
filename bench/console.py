"""Operator console: time to first useful paint, in headless Chromium, beside the raw API call.

A hub (SQLite registry, no broker: the pages read the registry) with 10 000 devices of the
simulated fleet's layout, 1 000 of them offline and a few hundred degraded. Measured, each the
median of several cold loads (the one-second cache of the live counts emptied before each; the
pages' routes read the database on every call):

- the fleet overview: from navigation start until the counts, the attention list and the map
  have been drawn; baseline: ``GET /api/v1/console/overview`` alone.
- the device list filtered to the 1 000 offline devices: from navigation start until the first
  page of rows and the total are drawn; baseline: the same first page and total,
  ``GET /api/v1/console/devices?state=offline&limit=50&facets=0`` (the filters' values follow
  from ``/console/facets``).

Goals: overview <= 1 s, list <= 0.5 s on this machine.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.common import BenchResult
from hub.api.console import CONSOLE_SUMMARY
from hub.settings import HubConfig

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
RUNS = 5

# Records when a selector first shows in the page, after the frame that paints it.
PAINT_PROBE = """
window.__painted = {};
window.__watch = (name, selector, test) => {
  const check = () => {
    if (window.__painted[name]) return true;
    const node = document.querySelector(selector);
    if (node && (!test || test(node))) {
      requestAnimationFrame(() => { window.__painted[name] = performance.now(); });
      return true;
    }
    return false;
  };
  if (!check()) {
    const obs = new MutationObserver(() => { if (check()) obs.disconnect(); });
    obs.observe(document, { childList: true, subtree: true, attributes: true });
  }
};
document.addEventListener("DOMContentLoaded", () => {
  if (location.hash.startsWith("#/overview")) {
    window.__watch("useful", "#fleet-map canvas", () =>
      document.querySelector('[data-testid="attention-row"]') !== null);
  } else {
    window.__watch("useful", '[data-testid="shown"]', (n) => /1000|1 000/.test(n.textContent));
  }
});
"""


def _fleet(n: int, offline: int, degraded: int) -> list[dict[str, Any]]:
    from sim.fleet.layout import FleetLayout

    return [s.registration() for s in FleetLayout.generate(n, seed=7, prefix="bench").devices]


def _set_states(hub: Any, offline: int, degraded: int) -> None:
    from hub.db import devices

    now = time.time()
    with hub.engine.begin() as conn:
        ids = [r[0] for r in conn.execute(sa.select(devices.c.id).order_by(devices.c.id))]
        step = len(ids) // offline
        down = set(ids[::step][:offline])
        up = [i for i in ids if i not in down]
        conn.execute(
            devices.update().where(devices.c.id.in_(up)).values(online=True, last_seen=now)
        )
        conn.execute(
            devices.update()
            .where(devices.c.id.in_(list(down)))
            .values(online=False, last_seen=now - 3600)
        )
        sick = {"drivers": {"printer": {"state": "user_error", "detail": "paper out"}}}
        conn.execute(devices.update().where(devices.c.id.in_(up[:degraded])).values(health=sick))


async def _measure(folder: Path, n: int, offline: int) -> list[BenchResult]:
    import aiohttp
    from aiohttp import web
    from playwright.async_api import async_playwright

    from hub.app import create_app
    from hub.context import HUB_KEY

    config = HubConfig(
        database_url=f"sqlite:///{folder / 'hub.db'}",
        telemetry_url=f"sqlite:///{folder / 'telemetry.db'}",
    )
    app = create_app(config, start_mqtt=False)
    hub = app[HUB_KEY]
    await asyncio.to_thread(hub.registry.register_many, _fleet(n, offline, 300))
    await asyncio.to_thread(_set_states, hub, offline, 300)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    token = await asyncio.to_thread(hub.tokens.create, "operator", "bench")
    summary = hub.extensions[CONSOLE_SUMMARY]

    def cold() -> None:
        summary._at = 0.0  # the live counts are read again when the page connects

    api_ms: dict[str, list[float]] = {"overview": [], "list": []}
    page_ms: dict[str, list[float]] = {"overview": [], "list": []}
    paths = {
        "overview": ("/api/v1/console/overview", "#/overview"),
        "list": (
            "/api/v1/console/devices?state=offline&limit=50&facets=0",
            "#/devices?state=offline",
        ),
    }
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            for name, (path, _) in paths.items():
                for _ in range(RUNS):
                    cold()
                    started = time.perf_counter()
                    async with http.get(base + path) as resp:
                        assert resp.status == 200, await resp.text()
                        body = await resp.json()
                    api_ms[name].append((time.perf_counter() - started) * 1000)
                if name == "list":
                    assert body["total"] == offline, body["total"]
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            context = await browser.new_context(viewport={"width": 1366, "height": 768})
            await context.add_init_script(PAINT_PROBE)
            page = await context.new_page()
            await page.goto(f"{base}/?token={token}#/overview")  # the token is kept
            await page.wait_for_function(
                "window.__painted && window.__painted.useful", timeout=30_000
            )
            for name, (_, fragment) in paths.items():
                for _ in range(RUNS):
                    cold()
                    await page.goto("about:blank")
                    await page.goto(f"{base}/{fragment}")
                    await page.wait_for_function(
                        "window.__painted && window.__painted.useful", timeout=30_000
                    )
                    page_ms[name].append(await page.evaluate("window.__painted.useful"))
            await browser.close()
    finally:
        await runner.cleanup()
    fleet = f"{n} devices"
    return [
        BenchResult(
            name=f"console overview, first useful paint ({fleet}; counts, attention, map)",
            figure=statistics.median(page_ms["overview"]),
            unit="ms",
            baseline=statistics.median(api_ms["overview"]),
            baseline_label="GET /console/overview alone",
            higher_is_better=False,
            goal="<= 1000 ms",
        ),
        BenchResult(
            name=f"console device list filtered to {offline} of {fleet}, first useful paint",
            figure=statistics.median(page_ms["list"]),
            unit="ms",
            baseline=statistics.median(api_ms["list"]),
            baseline_label="GET /console/devices?state=offline alone",
            higher_is_better=False,
            goal="<= 500 ms",
        ),
    ]


def run() -> list[BenchResult]:
    """Run the operator-console benchmark on a fleet of 10 000 devices (2 000 when quick)."""
    quick = bool(os.environ.get("GOVEDGE_BENCH_QUICK"))
    n, offline = (2_000, 200) if quick else (10_000, 1_000)
    with tempfile.TemporaryDirectory(prefix="govedge-bench-console-") as tmp:
        return asyncio.run(_measure(Path(tmp), n, offline))


if __name__ == "__main__":
    for result in run():
        print(result.line())
