"""End to end: a simulated water-level sensor on a Modbus bus, the real edge agent polling it
over a pty, the broker, and a hub whose default rules raise, escalate and clear the alarm."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from edge_agent.runtime import build_agent
from sim.modbus.device import SimDevice
from sim.modbus.server import ModbusBusSimulator


async def test_default_river_rule_with_agent_and_modbus_sim(
    alarm_hub: Any, mqtt_broker: Any, kit: Any, tmp_path: Path
) -> None:
    rh = await alarm_hub()
    dev_id = kit.uid("cabinet")
    # The default rule 'cabinet-river-level' watches this model's 'river.water_level_m'.
    await kit.register(
        rh,
        dev_id,
        model="sensor-cabinet-sht20",
        site="riverside",
        location={"lat": 30.6, "lon": 114.3},
    )
    sim = ModbusBusSimulator([SimDevice(2, "water_level", {"water_level_m": 2.35})]).start()
    config = {
        "device_id": dev_id,
        "model": "sensor-cabinet-sht20",
        "site": "riverside",
        "state_dir": str(tmp_path / "state"),
        "broker": {"url": mqtt_broker.url, "reconnect_min_s": 0.05, "reconnect_max_s": 0.5},
        "drivers": [
            {
                "name": "river",
                "kind": "modbus",
                "url": sim.url,
                "options": {"profile": "water_level", "unit": 2},
                "poll_interval_s": 0.1,
                "metric_prefix": "river.",
            }
        ],
        "publish": {"health_interval_s": 30.0, "replay_rate_per_s": 0},
    }
    path = tmp_path / "agent.json"
    path.write_text(json.dumps(config))
    agent = build_agent(path)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))

    async def last_kind() -> tuple[str, str] | None:
        kinds = await kit.kinds(rh, dev_id)
        return kinds[-1] if kinds else None

    async def reaches(kind: tuple[str, str]) -> bool:
        return await last_kind() == kind

    try:
        sim.set_curve(2, "water_level_m", 3.4)
        await rh.wait_for(lambda: reaches(("raised", "minor")))
        sim.set_curve(2, "water_level_m", 4.6)
        await rh.wait_for(lambda: reaches(("escalated", "major")))
        sim.set_curve(2, "water_level_m", 2.0)
        await rh.wait_for(lambda: reaches(("cleared", "major")))
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        sim.stop()
    page = await rh.get("/api/v1/alarms", device=dev_id)
    assert page["total"] == 1
    alarm = page["items"][0]
    assert alarm["rule_id"] == "cabinet-river-level" and alarm["site"] == "riverside"
    assert alarm["location"] == {"lat": 30.6, "lon": 114.3}
