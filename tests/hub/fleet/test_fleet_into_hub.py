"""A scale-mode fleet registered with a real hub and ingested by it."""

from __future__ import annotations

from typing import Any

from sim.fleet import FleetLayout, ScaleFleet
from sim.fleet.hub_registration import register_devices


async def test_two_hundred_devices_register_come_online_and_are_ingested(
    hub_config: Any, start_hub: Any, mqtt_broker: Any
) -> None:
    rh = await start_hub(hub_config())
    layout = FleetLayout.generate(200, prefix="hubfleet")
    assert await register_devices(rh.url, rh.admin_token, layout.devices) == 200
    listed = await rh.get("/api/v1/devices", label="simulated=true", limit=1000)
    assert listed["total"] == 200
    fleet = ScaleFleet(layout, mqtt_broker.url, interval_s=0.25)
    await fleet.start()
    try:
        assert await fleet.wait_connected(within_s=20)

        async def all_online() -> bool:
            health = await rh.get("/api/v1/health")
            return bool(health["online"] == 200 and health["ingest"]["accepted"] >= 800)

        await rh.wait_for(all_online, timeout=30)
        health = await rh.get("/api/v1/health")
        assert health["ingest"]["duplicates"] == 0
        # Retained statuses of other tests' devices on the shared broker are unknown to this hub;
        # nothing of this fleet breaks the contract.
        assert set(health["ingest"]["rejected"]) <= {"unknown_device"}
    finally:
        await fleet.stop()
