"""A simulated R30x fingerprint module on a pty, with synthetic templates and fault injection."""

from sim.fingerprint.device import SimulatedModule
from sim.fingerprint.server import FingerprintSimulator
from sim.fingerprint.templates import synthetic_template

__all__ = ["FingerprintSimulator", "SimulatedModule", "synthetic_template"]
