"""R30x fingerprint modules (R307, R503, FPM10A, AS608 and their kin) over a serial line.

The package is a protocol library a technician can use on its own:

* :mod:`drivers.fingerprint.codec`: packets, checksums and a resynchronising stream parser
  (sans-I/O);
* :mod:`drivers.fingerprint.commands`: instruction codes, command payloads and answer layouts
  (sans-I/O);
* :mod:`drivers.fingerprint.codes`: every confirmation code with its meaning and error class;
* :mod:`drivers.fingerprint.module`: the blocking driver over a transport URL, with the flows
  enroll, verify, search, delete, count and info;
* :mod:`drivers.fingerprint.polled`: the edge agent's polled driver;
* :mod:`drivers.fingerprint.cli`: ``govedge device fingerprint ...``.
"""

from drivers.fingerprint.module import FingerprintModule

__all__ = ["FingerprintModule"]
