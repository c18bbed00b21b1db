"""Second-generation resident ID-card readers (GA/T 467 SAM_V modules).

The package is a protocol library a technician can use on its own:

* :mod:`drivers.idcard.codec` turns bytes into frames and back (sans-I/O, with resynchronisation);
* :mod:`drivers.idcard.status` maps every SAM status byte to a result or an exception;
* :mod:`drivers.idcard.layout` parses the base-information payload (resident ID card, 港澳台
  residence card, foreigner's permanent residence card, optional fingerprint data);
* :mod:`drivers.idcard.idnumber` and :mod:`drivers.idcard.nations` hold GB 11643 and GB 3304;
* :mod:`drivers.idcard.photo` decodes the card photo through pluggable decoders;
* :mod:`drivers.idcard.reader` is the typed reader interface and the serial SAM implementation;
* :mod:`drivers.idcard.polled` is what the edge agent drives.
"""

from drivers.idcard.card import IdentityCard
from drivers.idcard.reader import IdCardReader, SamSerialReader

__all__ = ["IdCardReader", "IdentityCard", "SamSerialReader"]
