"""The one place that fills a message's identity: device id, boot id, seq and ts.

(device_id, boot_id, seq) identifies a message: the hub drops duplicates by it and counts gaps in
seq within a boot. Every sender — the agent, the hub's commands and configs, the simulators —
makes its envelopes through an :class:`EnvelopeStamper`, so that the identity is filled the same
way everywhere and a sender cannot forget a field or reuse a seq by hand.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from govedge.contract.messages import Envelope

M = TypeVar("M", bound=Envelope)


def new_boot_id() -> str:
    """A fresh boot id, for each start of a sender."""
    return uuid.uuid4().hex


class EnvelopeStamper:
    """Stamps envelopes for one sender and one boot.

    ``device_id``: the device the messages are about (a device's own id), or None for a sender
    that addresses many devices (the hub: each message names its target with ``to=``).
    ``next_seq``: where seqs come from; by default a counter of this stamper starting after
    ``last_seq``. A sender whose seq is taken elsewhere (the agent's outbox, at commit) passes
    ``seq=`` to :meth:`stamp` instead.
    """

    def __init__(
        self,
        device_id: str | None,
        boot_id: str | None = None,
        *,
        next_seq: Callable[[], int] | None = None,
        last_seq: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.device_id = device_id
        self.boot_id = boot_id or new_boot_id()
        self.clock = clock
        if next_seq is None:
            next_seq = itertools.count(last_seq + 1).__next__
        self.next_seq = next_seq

    def stamp(
        self,
        kind: Callable[..., M],
        data: Any,
        *,
        seq: int | None = None,
        ts: float | None = None,
        to: str | None = None,
    ) -> M:
        """A ``kind`` message carrying ``data``, with this sender's identity.

        ``seq``: given by the caller, else the next of ``next_seq``; ``ts``: the time of
        measurement, else now; ``to``: the device a hub message is for (else this stamper's)."""
        device_id = to or self.device_id
        if device_id is None:
            raise ValueError("a stamper without a device id needs to= for each message")
        return kind(
            device_id=device_id,
            boot_id=self.boot_id,
            seq=self.next_seq() if seq is None else seq,
            ts=self.clock() if ts is None else ts,
            data=data,
        )
