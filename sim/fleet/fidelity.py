"""Fidelity mode: real edge agents (edge_agent) in one asyncio loop, each polling real Modbus
drivers over a pty against a wire-level sensor simulator (sim.modbus), each behind its own
link relay so scenarios can cut its network.

Sensor cabinets are simulated: river gauges (water_level profile), air stations (air_quality)
and building sensors (smoke at unit 1, sht20 at unit 2). Kiosks are not simulated in this mode
yet; scenario events aimed at them are counted in ``unsupported``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govedge.broker import BrokerURL, MosquittoBroker
from sim.fleet.layout import FleetLayout, SimDeviceSpec
from sim.fleet.relay import LinkRelay
from sim.fleet.scale import FleetError

# kind -> [(unit, modbus profile, metric prefix)]; metric names match the scale-mode layout.
BUSES: dict[str, list[tuple[int, str, str]]] = {
    "river_gauge": [(1, "water_level", "")],
    "air_station": [(1, "air_quality", "")],
    "building_sensor": [(1, "smoke", ""), (2, "sht20", "room.")],
}
PROFILE_QUANTITIES: dict[str, set[str]] = {
    "water_level": {"water_level_m"},
    "air_quality": {"pm2_5", "pm10", "temperature", "humidity", "so2", "no2", "co", "o3"},
    "smoke": {"smoke_alarm", "obscuration"},
    "sht20": {"temperature", "humidity"},
}


def _unit_of(kind: str, metric: str) -> tuple[int, str] | None:
    """(unit, simulator quantity) behind a published metric name, if this bus has it."""
    for unit, profile, prefix in BUSES[kind]:
        if metric.startswith(prefix) and metric[len(prefix) :] in PROFILE_QUANTITIES[profile]:
            return unit, metric[len(prefix) :]
    return None


@dataclass
class _Cabinet:
    spec: SimDeviceSpec
    bus: Any  # ModbusBusSimulator
    relay: LinkRelay
    agent: Any  # edge_agent.agent.Agent
    stop: asyncio.Event
    task: asyncio.Task[None] | None = None


class FidelityFleet:
    """Real agents over simulated sensor buses; the same scenario target as ScaleFleet."""

    def __init__(
        self,
        layout: FleetLayout,
        broker_url: str,
        poll_interval_s: float = 1.0,
        workdir: str | Path | None = None,
        owned_broker: MosquittoBroker | None = None,
    ) -> None:
        self.layout = FleetLayout(tuple(d for d in layout.devices if d.kind in BUSES))
        self.skipped = len(layout.devices) - len(self.layout.devices)
        self.broker = BrokerURL.parse(broker_url)
        self.poll_interval_s = poll_interval_s
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="govedge-fleet-"))
        self.owned_broker = owned_broker
        self.cabinets: dict[str, _Cabinet] = {}
        self.stuck: set[tuple[str, str]] = set()
        self.unsupported = 0

    def _config(self, spec: SimDeviceSpec, bus_url: str, relay_url: str) -> dict[str, Any]:
        return {
            "device_id": spec.device_id,
            "model": spec.model,
            "site": spec.site,
            "firmware": "sim-1",
            "state_dir": str(self.workdir / spec.device_id),
            "broker": {"url": relay_url, "reconnect_min_s": 0.5, "reconnect_max_s": 5.0},
            "drivers": [
                {
                    "name": f"{profile}{unit}",
                    "kind": "modbus",
                    "url": bus_url,
                    "options": {"profile": profile, "unit": unit},
                    "poll_interval_s": self.poll_interval_s,
                    "metric_prefix": prefix,
                }
                for unit, profile, prefix in BUSES[spec.kind]
            ],
            "publish": {"health_interval_s": 30.0},
            "outbox": {"synchronous": "normal"},
        }

    async def start(self) -> None:
        from edge_agent.runtime import build_agent
        from sim.modbus import ModbusBusSimulator, SimDevice

        if not self.layout.devices:
            raise FleetError("fidelity mode simulates sensor cabinets; the layout has none")
        self.workdir.mkdir(parents=True, exist_ok=True)
        for spec in self.layout.devices:
            curves: dict[int, dict[str, float]] = {unit: {} for unit, _, _ in BUSES[spec.kind]}
            for quantity, value in spec.baseline.items():
                if where := _unit_of(spec.kind, quantity):
                    curves[where[0]][where[1]] = value
            bus = ModbusBusSimulator(
                [SimDevice(unit, profile, curves[unit]) for unit, profile, _ in BUSES[spec.kind]]
            ).start()
            relay = LinkRelay(self.broker.host, self.broker.port)
            await relay.start()
            path = self.workdir / f"{spec.device_id}.json"
            path.write_text(json.dumps(self._config(spec, bus.url, relay.url)))
            agent = await asyncio.to_thread(build_agent, path)
            self.cabinets[spec.device_id] = _Cabinet(spec, bus, relay, agent, asyncio.Event())
        for cab in self.cabinets.values():
            cab.task = asyncio.create_task(cab.agent.run(cab.stop))

    async def stop(self) -> None:
        for cab in self.cabinets.values():
            cab.stop.set()
        await asyncio.gather(
            *(c.task for c in self.cabinets.values() if c.task), return_exceptions=True
        )
        for cab in self.cabinets.values():
            await cab.relay.close()
            cab.bus.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def connected(self) -> int:
        """How many agents hold a broker connection right now."""
        return sum(1 for c in self.cabinets.values() if c.agent.link.connected)

    def status_line(self) -> str:
        sent = sum(int(c.agent.outbox.seq) for c in self.cabinets.values())
        return (
            f"agents connected {self.connected()}/{len(self.cabinets)}  messages {sent}  "
            f"kiosks not simulated {self.skipped}  unsupported scenario steps {self.unsupported}"
        )

    # scenario target
    def specs(self) -> Sequence[SimDeviceSpec]:
        return self.layout.devices

    def set_value(self, device_id: str, quantity: str, value: float) -> None:
        if (device_id, quantity) in self.stuck:
            return
        cab = self.cabinets[device_id]
        where = _unit_of(cab.spec.kind, quantity)
        if where is None:
            self.unsupported += 1
        else:
            cab.bus.set_value(where[0], where[1], value)

    def stick(self, device_id: str, quantity: str, stuck: bool) -> None:
        # The simulator holds the last value set; ignoring further values freezes the reading.
        if stuck:
            self.stuck.add((device_id, quantity))
        else:
            self.stuck.discard((device_id, quantity))

    def set_link(self, device_ids: Iterable[str], up: bool) -> None:
        for device_id in device_ids:
            if device_id in self.cabinets:
                self.cabinets[device_id].relay.set_up(up)

    def send_event(self, device_id: str, kind: str, severity: str, message: str) -> None:
        # Real agents raise events from their drivers, not on request.
        self.unsupported += 1

    def reconnect_storm(self) -> None:
        for cab in self.cabinets.values():
            cab.relay.cut()

    async def restart_broker(self, down_s: float) -> None:
        if self.owned_broker is None:
            raise FleetError("broker_restart needs a broker the simulator started (omit --broker)")
        await asyncio.to_thread(self.owned_broker.kill)
        await asyncio.sleep(down_s)
        await asyncio.to_thread(self.owned_broker.start)
