"""The real PC/SC stack for the simulator's tests. The simulator's cards go into vpcd's second
slot ("Virtual PCD 00 01"), the driver tests keep theirs in the first."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sim.smartcard.card import SocialSecurityCardModel
from sim.smartcard.pcscd import PrivatePcscd, SharedPcscd
from sim.smartcard.virtual import VirtualCard

ROOT = Path(__file__).resolve().parents[3]
WAIT = 5.0
SLOT = 1


@pytest.fixture(scope="session")
def pcsc_stack() -> Iterator[PrivatePcscd]:
    stack = SharedPcscd.acquire()
    yield stack
    SharedPcscd.release()


@pytest.fixture
def slot_card(pcsc_stack: PrivatePcscd) -> Iterator[Callable[..., VirtualCard]]:
    """Start simulated cards in slot 1; each is removed (and seen removed) afterwards."""
    from drivers.smartcard.pcsc import PcscContext

    started: list[VirtualCard] = []

    def make(model: SocialSecurityCardModel | None = None, inserted: bool = True) -> VirtualCard:
        card = VirtualCard(
            model or SocialSecurityCardModel(),
            port=pcsc_stack.vpcd_port + SLOT,
            netns=pcsc_stack.netns,
        )
        started.append(card.start(inserted=inserted))
        return card

    yield make
    for card in started:
        card.stop()
    with PcscContext() as context:
        context.wait_for_removal(pcsc_stack.reader_names[SLOT], WAIT)


@pytest.fixture
def cli_env(pcsc_stack: PrivatePcscd) -> dict[str, str]:
    env = dict(os.environ)
    env.update(pcsc_stack.environ())
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture
def govedge_cmd() -> list[str]:
    return [sys.executable, "-m", "govedge.cli"]
