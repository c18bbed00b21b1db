"""GNSS receivers speaking NMEA 0183 over serial: RMC, GGA and GSA sentences to a position fix."""
