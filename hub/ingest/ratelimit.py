"""The contract's ``max_rate_per_device_hz``, enforced: a device that floods is shed, the others
are untouched.

One token bucket per device, refilled in the device's own time (the messages' ``ts``) at the
contract's rate, holding ``burst_s`` seconds of it. Device time, not arrival time: a backlog
replayed after an outage arrives at the broker's pace but was produced at the device's, and
must not be shed; a device that produces faster than the contract allows (a poll loop gone
wrong, a stuck sensor) drains its bucket within ``burst_s`` and is shed from then on, until its
rate falls back. The cost is a dict lookup per message, so a flood cannot starve other devices
of anything but the decoding it already cost.
"""

from __future__ import annotations

RATE_BURST_S = 10.0
"""How many seconds of the contract rate a device may publish at once (a reconnect's burst)."""


class RateGate:
    """Per-device token buckets in device time; ``allow`` says whether to keep a message."""

    def __init__(self, rate_hz: float, burst_s: float = RATE_BURST_S) -> None:
        if rate_hz <= 0 or burst_s <= 0:
            raise ValueError("rate_hz and burst_s must be positive")
        self.rate = rate_hz
        self.capacity = max(1.0, rate_hz * burst_s)
        self._buckets: dict[str, list[float]] = {}  # device -> [tokens, last ts]
        self.shed: dict[str, int] = {}

    def allow(self, device_id: str, ts: float) -> bool:
        """Whether to keep a message of this device stamped ``ts`` (device time); each message shed
        is counted in ``shed``. A device's first message is always kept."""
        bucket = self._buckets.get(device_id)
        if bucket is None:
            self._buckets[device_id] = [self.capacity - 1.0, ts]
            return True
        tokens, last = bucket
        if ts > last:
            tokens = min(self.capacity, tokens + (ts - last) * self.rate)
            bucket[1] = ts
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return True
        bucket[0] = tokens
        self.shed[device_id] = self.shed.get(device_id, 0) + 1
        return False

    def forget(self, device_id: str) -> None:
        """Drop a device's bucket (it was removed from the registry)."""
        self._buckets.pop(device_id, None)
        self.shed.pop(device_id, None)
