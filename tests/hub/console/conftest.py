"""The operator console's tests: headless Chromium (Debian's), and the fleet simulator's scale
mode on the real broker, whose devices answer commands and configs as edge agents do."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, async_playwright

from sim.fleet.layout import FleetLayout, SimDeviceSpec
from sim.fleet.scale import ScaleFleet

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
LAPTOP = {"width": 1366, "height": 768}
WALL = {"width": 1920, "height": 1080}


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
            viewport=LAPTOP,
            locale="en-GB",
        )
        try:
            yield context
        finally:
            await context.close()


@pytest.fixture
async def sim_fleet(mqtt_broker: Any) -> AsyncIterator[Callable[..., Awaitable[ScaleFleet]]]:
    """Start the fleet simulator's scale mode with the given devices (no periodic telemetry):
    they come online, and answer commands and desired configs as edge agents do."""
    made: list[ScaleFleet] = []

    async def start(specs: Iterable[SimDeviceSpec], **options: Any) -> ScaleFleet:
        layout = FleetLayout(tuple(specs))
        fleet = ScaleFleet(layout, mqtt_broker.url, interval_s=0, **options)
        made.append(fleet)
        await fleet.start()
        assert await fleet.wait_connected(within_s=30), fleet.status_line()
        return fleet

    yield start
    for fleet in made:
        await fleet.stop()
