"""The fleet simulator: many devices speaking the MQTT contract from one process, driven by
scenarios (flood, fire, air pollution, link loss, broker restart, reconnect storm).

fleet = ScaleFleet(FleetLayout.generate(200), broker_url); await fleet.start()
player = ScenarioPlayer(load_scenario("flood"), fleet, speed=10); await player.run()
"""

from sim.fleet.layout import FleetLayout, SimDeviceSpec
from sim.fleet.scale import FleetStats, ScaleFleet
from sim.fleet.scenario import Scenario, ScenarioError, ScenarioPlayer, load_scenario

__all__ = [
    "FleetLayout",
    "FleetStats",
    "ScaleFleet",
    "Scenario",
    "ScenarioError",
    "ScenarioPlayer",
    "SimDeviceSpec",
    "load_scenario",
]
