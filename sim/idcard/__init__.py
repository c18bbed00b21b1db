"""Simulated ID-card reader: the serial protocol, sample cards and their photo."""
