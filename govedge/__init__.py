"""govedge shared kernel: the wire contract, configuration, logging and the command line.

Every other package may import this one; it imports none of them.
"""

__version__ = "0.1.0"
