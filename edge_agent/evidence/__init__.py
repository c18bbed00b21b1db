"""Inspection evidence on the terminal: the signed record store and its sync to the hub."""
