"""Registering simulated devices with a hub over its REST API (POST /api/v1/devices)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from govedge.errors import GovedgeError
from sim.fleet.layout import SimDeviceSpec


class RegistrationError(GovedgeError):
    """The hub refused or could not be reached."""


async def register_devices(
    hub_url: str, token: str, specs: Sequence[SimDeviceSpec], concurrency: int = 16
) -> int:
    """Register (or update) every device; returns how many the hub accepted."""
    import aiohttp

    slots = asyncio.Semaphore(concurrency)
    url = hub_url.rstrip("/") + "/api/v1/devices"
    headers = {"Authorization": f"Bearer {token}"}

    async with aiohttp.ClientSession(headers=headers) as session:

        async def one(spec: SimDeviceSpec) -> None:
            async with slots, session.post(url, json=spec.registration()) as resp:
                if resp.status not in (200, 201):
                    text = await resp.text()
                    raise RegistrationError(
                        f"hub refused {spec.device_id}: HTTP {resp.status} {text[:200]}"
                    )

        try:
            await asyncio.gather(*(one(s) for s in specs))
        except aiohttp.ClientError as exc:
            raise RegistrationError(f"hub at {hub_url} unreachable: {exc}") from None
    return len(specs)
