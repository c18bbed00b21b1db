"""The simulated card on vpcd's socket, seen through the real pcscd."""

from __future__ import annotations

from collections.abc import Callable

from drivers.smartcard.exchange import Iso7816Card
from drivers.smartcard.pcsc import PcscContext
from drivers.smartcard.socialsecurity import read_social_security_card
from sim.smartcard.card import ATR, SocialSecurityCardModel
from sim.smartcard.holders import DECK
from sim.smartcard.pcscd import PrivatePcscd, reader_conf
from sim.smartcard.virtual import VirtualCard

WAIT = 5.0


def test_reader_conf_matches_debians() -> None:
    lib = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
    assert reader_conf(35963, lib) == (
        'FRIENDLYNAME "Virtual PCD"\n'
        "DEVICENAME   /dev/null:0x8C7B\n"
        f"LIBPATH      {lib}\n"
        "CHANNELID    0x8C7B\n"
    )


def test_stack_is_private(pcsc_stack: PrivatePcscd) -> None:
    assert pcsc_stack.running
    assert pcsc_stack.socket_path.startswith(str(pcsc_stack.workdir))
    assert pcsc_stack.environ() == {"PCSCLITE_CSOCK_NAME": pcsc_stack.socket_path}
    import os

    assert os.readlink(pcsc_stack.netns) != os.readlink("/proc/self/ns/net")


def test_card_seen_by_pcscd(
    pcsc_stack: PrivatePcscd, slot_card: Callable[..., VirtualCard]
) -> None:
    reader = pcsc_stack.reader_names[1]
    card = slot_card(SocialSecurityCardModel(DECK["expired"]))
    assert card.wait_connected(WAIT)
    with PcscContext() as context:
        state = context.wait_for_card(reader, WAIT)
        assert state.atr == ATR
        with context.connect(reader) as conn:
            values = read_social_security_card(Iso7816Card(conn.transmit))
    assert values["name"] == "李秀英" and values["sex"] == "2"
    assert card.model.counters.apdus >= 16 and card.model.powered


def test_remove_and_insert(pcsc_stack: PrivatePcscd, slot_card: Callable[..., VirtualCard]) -> None:
    reader = pcsc_stack.reader_names[1]
    card = slot_card(inserted=False)
    with PcscContext() as context:
        assert not context.state(reader).present and not card.connected
        card.insert()
        context.wait_for_card(reader, WAIT)
        card.remove()
        context.wait_for_removal(reader, WAIT)
        assert not card.connected
        card.insert()
        context.wait_for_card(reader, WAIT)
    assert card.connections == 2


def test_unknown_control_code_counted() -> None:
    card = VirtualCard(SocialSecurityCardModel())
    assert card._handle(b"\x09") is None
    assert card._handle(b"\x04") == ATR
    assert card._handle(bytes.fromhex("00FE0000")) == bytes.fromhex("6D00")
    assert card.unknown_controls == 1
