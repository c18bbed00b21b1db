"""The root of every govedge exception.

Each package has its own hierarchy (drivers.errors, hub.errors, ...) whose root derives from
GovedgeError, so that the command line can turn any of them into one clear line on stderr.
"""


class GovedgeError(Exception):
    """Base of all errors raised on purpose by govedge code, with a message a person can act on."""


class ConfigError(GovedgeError):
    """A configuration file or value is missing or invalid; the message names the file and key."""
