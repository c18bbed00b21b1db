"""Exponential backoff with full jitter, so that a thousand devices do not retry in step."""

from __future__ import annotations

import random


class Backoff:
    """Delay n is uniform in [0, min(cap, base * 2**n)] ("full jitter"); reset on success.

    ``jitter=False`` gives the plain exponential delay (drivers on one machine need no jitter).
    """

    def __init__(
        self, base: float, cap: float, *, jitter: bool = True, rng: random.Random | None = None
    ) -> None:
        self.base = base
        self.cap = cap
        self.jitter = jitter
        self.attempt = 0
        self._rng = rng or random.Random()  # noqa: S311 - reconnect jitter, not security

    def ceiling(self) -> float:
        """The upper bound of the next delay."""
        return float(min(self.cap, self.base * (2 ** min(self.attempt, 32))))

    def next(self) -> float:
        """The next delay in seconds; each call doubles the ceiling up to the cap."""
        top = self.ceiling()
        self.attempt += 1
        return self._rng.uniform(0.0, top) if self.jitter else top

    def reset(self) -> None:
        """Start over from the base delay (after a success)."""
        self.attempt = 0
