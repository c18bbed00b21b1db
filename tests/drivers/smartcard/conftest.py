"""The real PC/SC stack for the smart-card tests: a private pcscd with vpcd, and the simulated
social-security card inserted in its first slot (its second slot stays empty)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.smartcard.card import SocialSecurityCardModel
from sim.smartcard.pcscd import PrivatePcscd, SharedPcscd
from sim.smartcard.virtual import VirtualCard

ROOT = Path(__file__).resolve().parents[3]
WAIT = 5.0  # generous bound on pcscd noticing a card (it polls vpcd every 0.4 s)


@pytest.fixture(scope="session")
def pcsc_stack() -> Iterator[PrivatePcscd]:
    stack = SharedPcscd.acquire()
    yield stack
    SharedPcscd.release()


@pytest.fixture(scope="session")
def session_card(pcsc_stack: PrivatePcscd) -> Iterator[VirtualCard]:
    from drivers.smartcard.pcsc import PcscContext

    card = VirtualCard(SocialSecurityCardModel(), port=pcsc_stack.vpcd_port, netns=pcsc_stack.netns)
    card.start()
    assert card.wait_connected(WAIT)
    with PcscContext() as context:
        context.wait_for_card(pcsc_stack.reader_names[0], WAIT)
    yield card
    card.stop()


@pytest.fixture
def ssc_card(session_card: VirtualCard, pcsc_stack: PrivatePcscd) -> Iterator[VirtualCard]:
    """The card in slot 0 with a fresh default model; put back in the reader afterwards."""
    from drivers.smartcard.pcsc import PcscContext

    session_card.model = SocialSecurityCardModel()
    yield session_card
    session_card.model = SocialSecurityCardModel()
    session_card.insert()
    with PcscContext() as context:
        context.wait_for_card(pcsc_stack.reader_names[0], WAIT)


@pytest.fixture
def cli_env(pcsc_stack: PrivatePcscd) -> dict[str, str]:
    """Environment for a `govedge` subprocess that talks to the private pcscd."""
    env = dict(os.environ)
    env.update(pcsc_stack.environ())
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture
def govedge_cmd() -> list[str]:
    return [sys.executable, "-m", "govedge.cli"]
