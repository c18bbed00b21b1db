"""The polled driver the edge agent uses: URL forms, options, card presence and health."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from drivers.base import PolledDriver
from drivers.registry import create_driver
from drivers.smartcard.errors import (
    CardTimeoutError,
    NoCardError,
    ReaderNotFoundError,
    RequiredFieldMissingError,
)
from drivers.smartcard.polled import create, parse_url
from govedge.errors import ConfigError
from govedge.health import HealthState
from sim.smartcard.card import CardOptions, SocialSecurityCardModel
from sim.smartcard.pcscd import PrivatePcscd
from sim.smartcard.virtual import VirtualCard


@pytest.mark.parametrize(
    ("url", "reader"),
    [
        ("pcsc://", None),
        ("PCSC://", None),
        ("pcsc://Virtual%20PCD%2000%2001", "Virtual PCD 00 01"),
        ("pcsc://00 01", "00 01"),
        ("Virtual PCD 00 00", "Virtual PCD 00 00"),
        ("", None),
    ],
)
def test_url_forms(url: str, reader: str | None) -> None:
    assert parse_url(url) == reader


def test_unknown_option_named() -> None:
    with pytest.raises(ConfigError, match="unknown field `baudrate`"):
        create("pcsc://", {"baudrate": 9600})
    with pytest.raises(ConfigError, match=r"options\.reader: Expected `str`"):
        create("pcsc://", {"reader": 3})


def test_registry_builds_it() -> None:
    driver = create_driver("smartcard", "pcsc://", {"reader": "00 01"})
    assert isinstance(driver, PolledDriver)
    assert driver.kind == "smartcard" and driver.wanted == "00 01"  # type: ignore[attr-defined]


def test_poll_presence_and_counters(ssc_card: VirtualCard, pcsc_stack: PrivatePcscd) -> None:
    from drivers.smartcard.pcsc import PcscContext

    driver = create("pcsc://Virtual PCD 00 00", {})
    driver.open()
    try:
        assert driver.poll() == {"card_present": 1.0}
        assert driver.health().state is HealthState.ONLINE
        ssc_card.remove()
        with PcscContext() as context:
            context.wait_for_removal(pcsc_stack.reader_names[0], 5)
        assert driver.poll() == {"card_present": 0.0}
        ssc_card.insert()
        with PcscContext() as context:
            context.wait_for_card(pcsc_stack.reader_names[0], 5)
        assert driver.poll() == {"card_present": 1.0}
        counters = driver.health().counters
        assert (counters["removals"], counters["insertions"], counters["polls"]) == (1, 1, 3)
    finally:
        driver.close()
        driver.close()


def test_empty_reader_polls_zero(pcsc_stack: PrivatePcscd) -> None:
    driver = create("pcsc://00 01", {})
    assert driver.poll() == {"card_present": 0.0}
    with pytest.raises(NoCardError, match="insert the social-security card"):
        driver.read_social_security()
    assert driver.health().state is HealthState.USER_ERROR
    driver.close()


def test_missing_reader_is_no_device(pcsc_stack: PrivatePcscd) -> None:
    driver = create("pcsc://Omnikey", {})
    with pytest.raises(ReaderNotFoundError):
        driver.open()
    with pytest.raises(ReaderNotFoundError):
        driver.poll()
    report = driver.health()
    assert report.state is HealthState.NO_DEVICE and report.errors == 2
    assert "Omnikey" in report.detail


def test_read_masked_and_revealed(ssc_card: VirtualCard) -> None:
    driver = create("pcsc://", {})
    masked = driver.read_social_security()
    assert masked["id_number"] == "110105********0017" and masked["name"] == "张*"
    assert masked["reader"] == "Virtual PCD 00 00"
    revealed = driver.read_social_security(reveal=True)
    assert revealed["id_number"] == "110105199003070017"
    driver.close()


def test_no_pcscd_is_no_device(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """A process whose pcscd socket leads nowhere: health no_device, one clear error."""
    script = (
        "from drivers.smartcard.polled import create\n"
        "d = create('pcsc://', {})\n"
        "try:\n"
        "    d.poll()\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, '|', d.health().state.value, '|', exc)\n"
    )
    env = dict(cli_env)
    env["PCSCLITE_CSOCK_NAME"] = str(tmp_path / "no-pcscd.comm")
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30
    )
    kind, state, message = out.stdout.strip().split(" | ")
    assert kind == "PcscUnavailableError" and state == "no_device"
    assert "is pcscd running?" in message


def test_waits_for_the_citizen(
    ssc_card: VirtualCard, pcsc_stack: PrivatePcscd, caplog: pytest.LogCaptureFixture
) -> None:
    """A kiosk flow: wait for the card, read it, wait for it to be taken back."""
    import logging

    caplog.set_level(logging.INFO, logger="govedge.drivers.smartcard")
    driver = create("pcsc://00 00", {})
    driver.wait_for_card(1.0)
    assert driver.read_social_security()["card_number"] == "A******56"
    with pytest.raises(CardTimeoutError):
        driver.wait_for_removal(0.2)
    assert driver.health().state is HealthState.OFFLINE
    ssc_card.remove()
    driver.wait_for_removal(5.0)
    assert driver.health().state is HealthState.ONLINE
    with pytest.raises(CardTimeoutError, match="no card was inserted"):
        driver.wait_for_card(0.2)
    assert driver.poll() == {"card_present": 0.0}
    driver.close()
    text = caplog.text
    assert "card_read" in text and "110105" not in text and "张" not in text


def test_read_a_card_missing_an_issuer_record_over_pcsc(ssc_card: VirtualCard) -> None:
    ssc_card.model = SocialSecurityCardModel(options=CardOptions(omit=frozenset({"issue_date"})))
    driver = create("pcsc://", {})
    try:
        data = driver.read_social_security()
        assert data["missing"] == "issue_date,name_extension"
        assert "issue_date" not in data
        assert data["id_number"] == "110105********0017" and data["expiry_date"]
        ssc_card.model = SocialSecurityCardModel(options=CardOptions(omit=frozenset({"name"})))
        with pytest.raises(RequiredFieldMissingError, match="name"):
            driver.read_social_security()
    finally:
        driver.close()
