"""Fixtures: the simulated reader on a real pty, and readers connected to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from drivers.idcard.photo import default_decoders
from drivers.idcard.reader import SamSerialReader
from sim.idcard.server import IdCardSimulator

SimFactory = Callable[..., IdCardSimulator]
ReaderFactory = Callable[..., SamSerialReader]


@pytest.fixture
def make_sim() -> Iterator[SimFactory]:
    """Start simulators: ``make_sim(card="valid", faults=(), delay=0.5)``."""
    started: list[IdCardSimulator] = []

    def make(
        card: str | None = "valid", faults: tuple[str, ...] = (), delay: float = 0.5
    ) -> IdCardSimulator:
        sim = IdCardSimulator(card, faults, delay).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.close()


@pytest.fixture
def sim(make_sim: SimFactory) -> IdCardSimulator:
    return make_sim()


@pytest.fixture
def make_reader() -> Iterator[ReaderFactory]:
    """Open SamSerialReaders on a simulator's pty: ``make_reader(sim, timeout=1.0, ...)``."""
    opened: list[SamSerialReader] = []

    def make(sim: IdCardSimulator, **options: Any) -> SamSerialReader:
        options.setdefault("timeout", 1.0)
        options.setdefault("retry_delay", 0.01)
        options.setdefault("decoders", default_decoders(simulated=True))
        reader = SamSerialReader(sim.url, **options)
        reader.open()
        opened.append(reader)
        return reader

    yield make
    for reader in opened:
        reader.close()
