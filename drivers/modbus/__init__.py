"""Modbus RTU sensors on an RS-485 bus: profiles as data, a shared bus, a polled driver.

A sensor model is a profile (``profiles/<name>.json``) saying which register holds which
quantity and how to scale it; adding a model is adding a data file, not a class.
"""
