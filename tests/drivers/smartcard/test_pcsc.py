"""The driver against the simulated card behind the real PC/SC stack (pcscd + vpcd)."""

from __future__ import annotations

import pytest

from drivers.smartcard.apdu import CommandApdu, read_record
from drivers.smartcard.errors import (
    CardFileNotFoundError,
    CardRemovedError,
    CardTimeoutError,
    ClaNotSupportedError,
    InsNotSupportedError,
    NoCardError,
    ReaderNotFoundError,
    SecurityStatusError,
)
from drivers.smartcard.exchange import Iso7816Card, transceive
from drivers.smartcard.pcsc import PcscContext, resolve_reader
from drivers.smartcard.socialsecurity import SSC_DF_NAME, read_social_security_card
from sim.smartcard.card import ATR, CardOptions, SocialSecurityCardModel
from sim.smartcard.holders import DECK
from sim.smartcard.pcscd import PrivatePcscd
from sim.smartcard.virtual import VirtualCard

RECORD_08 = bytes.fromhex("0812") + b"110105199003070017"
# The ATR the simulator sends: TS 3B, T0 86, TD1 80, TD2 01, "GOVSSC", TCK 1A.
ATR_HEX = "3B 86 80 01 47 4F 56 53 53 43 1A"


@pytest.fixture
def context() -> PcscContext:
    return PcscContext()


def test_readers_listed(pcsc_stack: PrivatePcscd, context: PcscContext) -> None:
    assert context.readers() == ["Virtual PCD 00 00", "Virtual PCD 00 01"]


def test_atr_and_presence(ssc_card: VirtualCard, context: PcscContext) -> None:
    assert bytes.fromhex(ATR_HEX) == ATR
    slot0, slot1 = context.states()
    assert slot0.present and slot0.atr == bytes.fromhex(ATR_HEX)
    assert not slot1.present and slot1.atr == b""


def test_resolve_reader_by_part_of_name() -> None:
    names = ["Virtual PCD 00 00", "Virtual PCD 00 01"]
    assert resolve_reader(names, "00 01") == "Virtual PCD 00 01"
    assert resolve_reader(names, "virtual") == "Virtual PCD 00 00"
    assert resolve_reader(names, None) == "Virtual PCD 00 00"
    with pytest.raises(ReaderNotFoundError, match="no reader matches 'Omnikey'"):
        resolve_reader(names, "Omnikey")
    with pytest.raises(ReaderNotFoundError, match="no smart-card reader"):
        resolve_reader([], None)


def test_read_social_security_card(ssc_card: VirtualCard, pcsc_stack: PrivatePcscd) -> None:
    with PcscContext() as context, context.connect(pcsc_stack.reader_names[0]) as card:
        assert card.atr == ATR
        values = read_social_security_card(Iso7816Card(card.transmit))
    assert values["id_number"] == "110105199003070017"
    assert values["name"] == "张伟" and values["card_number"] == "A18023456"


def test_get_response_path_over_pcsc(ssc_card: VirtualCard, pcsc_stack: PrivatePcscd) -> None:
    ssc_card.model = SocialSecurityCardModel(options=CardOptions(get_response=True, chunk=8))
    with PcscContext() as context, context.connect(pcsc_stack.reader_names[0]) as card:
        iso = Iso7816Card(card.transmit)
        iso.select_application(SSC_DF_NAME)
        iso.select_file(0xEF06)
        ssc_card.model.log.clear()
        response = transceive(card.transmit, read_record(0x08, by=0x00))
    assert response.data == RECORD_08 and response.sw == 0x9000
    assert [c.hex() for c, _ in ssc_card.model.log] == [
        "00b2080000",
        "00c0000014",
        "00c000000c",
        "00c0000004",
    ]


def test_wrong_le_path_over_pcsc(ssc_card: VirtualCard, pcsc_stack: PrivatePcscd) -> None:
    ssc_card.model = SocialSecurityCardModel(DECK["expired"], options=CardOptions(strict_le=True))
    with PcscContext() as context, context.connect(pcsc_stack.reader_names[0]) as card:
        values = read_social_security_card(Iso7816Card(card.transmit))
    assert values["name"] == "李秀英"
    commands = [c for c, _ in ssc_card.model.log]
    assert bytes.fromhex("00B2080000") in commands and bytes.fromhex("00B2080014") in commands


def test_status_word_errors_over_pcsc(ssc_card: VirtualCard, pcsc_stack: PrivatePcscd) -> None:
    with PcscContext() as context, context.connect(pcsc_stack.reader_names[0]) as card:
        iso = Iso7816Card(card.transmit)
        with pytest.raises(CardFileNotFoundError, match="6A82"):
            iso.select_application(b"1PAY.SYS.DDF01")
        iso.select_application(SSC_DF_NAME)
        iso.select_file(0xEF08)
        with pytest.raises(SecurityStatusError, match="6982"):
            iso.read_record(1)
        with pytest.raises(InsNotSupportedError, match="6D00"):
            iso.send(CommandApdu(0x00, 0xFE, 0x00, 0x00))
        with pytest.raises(ClaNotSupportedError, match="6E00"):
            iso.send(CommandApdu(0x80, 0xB2, 0x01, 0x04, le=256))


def test_no_card_in_empty_slot(pcsc_stack: PrivatePcscd, context: PcscContext) -> None:
    with pytest.raises(NoCardError):
        context.connect(pcsc_stack.reader_names[1])


def test_unknown_reader(pcsc_stack: PrivatePcscd, context: PcscContext) -> None:
    with pytest.raises(ReaderNotFoundError):
        context.state("Omnikey 3121 00 00")


def test_wait_times_out(ssc_card: VirtualCard, pcsc_stack: PrivatePcscd) -> None:
    with PcscContext() as context:
        with pytest.raises(CardTimeoutError, match="no card was inserted in"):
            context.wait_for_card(pcsc_stack.reader_names[1], 0.3)
        with pytest.raises(CardTimeoutError, match="no card was removed from"):
            context.wait_for_removal(pcsc_stack.reader_names[0], 0.3)


def test_removal_and_insertion(ssc_card: VirtualCard, pcsc_stack: PrivatePcscd) -> None:
    reader = pcsc_stack.reader_names[0]
    with PcscContext() as context:
        assert context.state(reader).present
        ssc_card.remove()
        assert not context.wait_for_removal(reader, 5).present
        with pytest.raises(NoCardError):
            context.connect(reader)
        ssc_card.insert()
        state = context.wait_for_card(reader, 5)
        assert state.present and state.atr == ATR
        with context.connect(reader) as card:
            assert read_social_security_card(Iso7816Card(card.transmit))["sex"] == "1"


def test_card_pulled_during_a_session(ssc_card: VirtualCard, pcsc_stack: PrivatePcscd) -> None:
    reader = pcsc_stack.reader_names[0]
    with PcscContext() as context, context.connect(reader) as card:
        iso = Iso7816Card(card.transmit)
        iso.select_application(SSC_DF_NAME)
        ssc_card.remove()
        context.wait_for_removal(reader, 5)
        with pytest.raises(NoCardError) as caught:
            iso.select_file(0xEF05)
    assert isinstance(caught.value, (CardRemovedError, NoCardError))
