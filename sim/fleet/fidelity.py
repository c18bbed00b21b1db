"""Fidelity mode: real edge agents (edge_agent) in one asyncio loop, each driving real drivers
against wire-level simulators, each behind its own link relay so scenarios can cut its network.

- Sensor cabinets: Modbus RTU over a pty against ``sim.modbus`` (river gauges: water_level;
  air stations: air_quality; building sensors: smoke at unit 1, sht20 at unit 2).
- Hall kiosks: the ID-card reader (GA/T 467 over a pty, ``sim.idcard``, no card on it), the
  fingerprint module (R30x over a pty, ``sim.fingerprint``), the receipt printer (ESC/POS over
  TCP, ``sim.printer``) and the face camera (a folder of frames played in a loop).
- Inspector terminals: an NMEA GNSS receiver over a pty (``sim.gnss``) walking a small loop
  around the terminal's place.

Scenario values reach the simulators where a simulator has them (sensor registers; a kiosk's
``paper_out`` sets the printer's paper sensor); other steps are counted in ``unsupported``.
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

from typing_extensions import override

from govedge.broker import BrokerURL, MosquittoBroker
from sim.fleet.layout import FleetLayout, SimDeviceSpec
from sim.fleet.relay import LinkRelay
from sim.fleet.scale import FleetError
from sim.fleet.scenario import FleetTarget

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


SIMULATED_KINDS = (*BUSES, "kiosk", "inspector")
CAMERA_FPS = 2  # a kiosk camera at rest: enough to keep its health and counters alive
WALK_DEG = 0.002  # an inspector's round: about 200 m north and 300 m east of its place


@dataclass
class _Cabinet:
    """One simulated device: its simulators, link relay and agent."""

    spec: SimDeviceSpec
    sims: dict[str, Any]  # simulator role -> simulator (bus, idcard, finger, printer, gnss)
    relay: LinkRelay
    agent: Any  # edge_agent.agent.Agent
    stop: asyncio.Event
    task: asyncio.Task[None] | None = None

    @property
    def bus(self) -> Any:
        return self.sims["bus"]


class FidelityFleet(FleetTarget):
    """Real agents over simulated sensor buses; the same scenario target as ScaleFleet."""

    def __init__(
        self,
        layout: FleetLayout,
        broker_url: str,
        poll_interval_s: float = 1.0,
        workdir: str | Path | None = None,
        owned_broker: MosquittoBroker | None = None,
    ) -> None:
        self.layout = FleetLayout(tuple(d for d in layout.devices if d.kind in SIMULATED_KINDS))
        self.skipped = len(layout.devices) - len(self.layout.devices)
        self.broker = BrokerURL.parse(broker_url)
        self.poll_interval_s = poll_interval_s
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="govedge-fleet-"))
        self.owned_broker = owned_broker
        self.cabinets: dict[str, _Cabinet] = {}
        self.stuck: set[tuple[str, str]] = set()
        self.unsupported = 0

    def _drivers(self, spec: SimDeviceSpec, sims: dict[str, Any]) -> list[dict[str, Any]]:
        poll = self.poll_interval_s
        if spec.kind in BUSES:
            return [
                {
                    "name": f"{profile}{unit}",
                    "kind": "modbus",
                    "url": sims["bus"].url,
                    "options": {"profile": profile, "unit": unit},
                    "poll_interval_s": poll,
                    "metric_prefix": prefix,
                }
                for unit, profile, prefix in BUSES[spec.kind]
            ]
        if spec.kind == "kiosk":
            return [
                {
                    "name": "idcard",
                    "kind": "idcard",
                    "url": sims["idcard"].url,
                    "poll_interval_s": poll,
                },
                {
                    "name": "finger",
                    "kind": "fingerprint",
                    "url": sims["finger"].url,
                    "poll_interval_s": poll,
                },
                {
                    "name": "printer",
                    "kind": "printer",
                    "url": sims["printer"].url,
                    "poll_interval_s": poll,
                },
                {
                    "name": "camera",
                    "kind": "camera",
                    "url": sims["camera"],
                    "poll_interval_s": poll,
                },
            ]
        return [{"name": "gnss", "kind": "gnss", "url": sims["gnss"].url, "poll_interval_s": poll}]

    def _config(self, spec: SimDeviceSpec, sims: dict[str, Any], relay_url: str) -> dict[str, Any]:
        return {
            "device_id": spec.device_id,
            "model": spec.model,
            "site": spec.site,
            "firmware": "sim-1",
            "state_dir": str(self.workdir / spec.device_id),
            "broker": {"url": relay_url, "reconnect_min_s": 0.5, "reconnect_max_s": 5.0},
            "drivers": self._drivers(spec, sims),
            "publish": {"health_interval_s": 30.0},
            "outbox": {"synchronous": "normal"},
        }

    def _camera_folder(self) -> str:
        """One folder of frames (a person at the kiosk) shared by every kiosk camera."""
        import cv2

        from sim.camera.people import frame_of

        folder = self.workdir / "camera"
        if not folder.is_dir():
            folder.mkdir(parents=True)
            cv2.imwrite(str(folder / "0000.png"), frame_of("astronaut"))
        return f"{folder}?fps={CAMERA_FPS}&loop=1"

    def _start_sims(self, spec: SimDeviceSpec) -> dict[str, Any]:
        if spec.kind in BUSES:
            from sim.modbus import ModbusBusSimulator, SimDevice

            curves: dict[int, dict[str, float]] = {unit: {} for unit, _, _ in BUSES[spec.kind]}
            for quantity, value in spec.baseline.items():
                if where := _unit_of(spec.kind, quantity):
                    curves[where[0]][where[1]] = value
            return {
                "bus": ModbusBusSimulator(
                    [
                        SimDevice(unit, profile, curves[unit])
                        for unit, profile, _ in BUSES[spec.kind]
                    ]
                ).start()
            }
        if spec.kind == "kiosk":
            from sim.fingerprint import FingerprintSimulator
            from sim.idcard.server import IdCardSimulator
            from sim.printer.server import PrinterSimulator

            return {
                "idcard": IdCardSimulator(card=None).start(),
                "finger": FingerprintSimulator().start(),
                "printer": PrinterSimulator().start(),
                "camera": self._camera_folder(),
            }
        from sim.gnss import GnssSimulator
        from sim.gnss.track import Track

        lat, lon = spec.lat, spec.lon
        walk = [(lat, lon), (lat + WALK_DEG, lon), (lat + WALK_DEG, lon + 1.5 * WALK_DEG)]
        return {"gnss": GnssSimulator(Track(walk, speed_mps=1.4)).start()}

    @staticmethod
    def _stop_sims(sims: dict[str, Any]) -> None:
        for sim in sims.values():
            closer = getattr(sim, "stop", None) or getattr(sim, "close", None)
            if closer is not None:
                closer()

    async def start(self) -> None:
        """Start each cabinet's simulators, link relay and real agent.

        Raises FleetError when the layout holds no device fidelity mode can simulate.
        """
        from edge_agent.runtime import build_agent

        if not self.layout.devices:
            raise FleetError("the layout has no device fidelity mode simulates")
        self.workdir.mkdir(parents=True, exist_ok=True)
        for spec in self.layout.devices:
            sims = await asyncio.to_thread(self._start_sims, spec)
            relay = LinkRelay(self.broker.host, self.broker.port)
            await relay.start()
            path = self.workdir / f"{spec.device_id}.json"
            path.write_text(json.dumps(self._config(spec, sims, relay.url)))
            agent = await asyncio.to_thread(build_agent, path)
            self.cabinets[spec.device_id] = _Cabinet(spec, sims, relay, agent, asyncio.Event())
        for cab in self.cabinets.values():
            cab.task = asyncio.create_task(cab.agent.run(cab.stop))

    async def stop(self) -> None:
        """Stop the agents, then close their relays and simulators."""
        for cab in self.cabinets.values():
            cab.stop.set()
        await asyncio.gather(
            *(c.task for c in self.cabinets.values() if c.task), return_exceptions=True
        )
        for cab in self.cabinets.values():
            await cab.relay.close()
            self._stop_sims(cab.sims)
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def connected(self) -> int:
        """How many agents hold a broker connection right now."""
        return sum(1 for c in self.cabinets.values() if c.agent.link.connected)

    def status_line(self) -> str:
        """One line for the console: agents connected, messages sent and what was not simulated."""
        sent = sum(int(c.agent.outbox.seq) for c in self.cabinets.values())
        return (
            f"agents connected {self.connected()}/{len(self.cabinets)}  messages {sent}  "
            f"not simulated {self.skipped}  unsupported scenario steps {self.unsupported}"
        )

    # scenario target
    @override
    def specs(self) -> Sequence[SimDeviceSpec]:
        return self.layout.devices

    @override
    def set_value(self, device_id: str, quantity: str, value: float) -> None:
        if (device_id, quantity) in self.stuck:
            return
        cab = self.cabinets[device_id]
        if cab.spec.kind == "kiosk" and quantity == "paper_out":
            cab.sims["printer"].set_state(paper_out=value >= 0.5)
            return
        where = _unit_of(cab.spec.kind, quantity) if cab.spec.kind in BUSES else None
        if where is None:
            self.unsupported += 1
        else:
            cab.bus.set_value(where[0], where[1], value)

    @override
    def stick(self, device_id: str, quantity: str, stuck: bool) -> None:
        # The simulator holds the last value set; ignoring further values freezes the reading.
        if stuck:
            self.stuck.add((device_id, quantity))
        else:
            self.stuck.discard((device_id, quantity))

    @override
    def set_link(self, device_ids: Iterable[str], up: bool) -> None:
        for device_id in device_ids:
            if device_id in self.cabinets:
                self.cabinets[device_id].relay.set_up(up)

    @override
    def send_event(self, device_id: str, kind: str, severity: str, message: str) -> None:
        # Real agents raise events from their drivers, not on request.
        self.unsupported += 1

    @override
    def reconnect_storm(self) -> None:
        for cab in self.cabinets.values():
            cab.relay.cut()

    @override
    async def restart_broker(self, down_s: float) -> None:
        if self.owned_broker is None:
            raise FleetError("broker_restart needs a broker the simulator started (omit --broker)")
        await asyncio.to_thread(self.owned_broker.kill)
        await asyncio.sleep(down_s)
        await asyncio.to_thread(self.owned_broker.start)
