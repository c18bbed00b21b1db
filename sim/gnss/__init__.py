"""A simulated GNSS receiver on a pty, playing a track of waypoints as NMEA 0183.

sim = GnssSimulator(track=Track.city_loop(), rate_hz=1.0).start()
sim.url            # /dev/pts/N for the driver
sim.set_fix(0)     # lose the fix; sim.corrupt(3) sends three bad checksums; sim.stop()
"""

from sim.gnss.server import GnssSimulator
from sim.gnss.track import Track

__all__ = ["GnssSimulator", "Track"]
