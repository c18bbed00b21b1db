"""A simulated RS-485 bus of Modbus RTU sensors on a pty, driven by scenario curves.

sim = ModbusBusSimulator(devices=[SimDevice(unit=1, profile="sht20",
                                            curves={"temperature": 30.5, "humidity": 54.6})])
sim.start(); url = sim.url   # a /dev/pts/N path for the driver
sim.set_value(1, "temperature", 41.0); sim.set_fault(1, "silent"); sim.stop()
"""

from sim.modbus.curves import Curve, Spike
from sim.modbus.device import Fault, SimDevice
from sim.modbus.server import ModbusBusSimulator

__all__ = ["Curve", "Fault", "ModbusBusSimulator", "SimDevice", "Spike"]
