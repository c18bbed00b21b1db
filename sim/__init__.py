"""Simulators: the other end of every wire, and whole simulated fleets with scenarios.

Only the tests, the demo and the fleet simulator import this package.
"""
