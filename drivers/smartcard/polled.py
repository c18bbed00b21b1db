"""The smart-card reader as a polled device: is there a card in the reader?

URL forms: ``pcsc://`` (the first reader), ``pcsc://<part of a reader name>`` (the first reader
whose name contains it; percent-escapes allowed, e.g. ``pcsc://Virtual%20PCD%2000%2001``), or a
bare PC/SC reader name. Options: ``reader`` (the same as the URL's name part). ``poll()`` gives
``{"card_present": 0 or 1}``; health is no_device while pcscd or the reader is absent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from drivers.base import HealthReport
from drivers.errors import DriverError
from drivers.options import options_of
from drivers.smartcard.errors import NoCardError
from drivers.smartcard.exchange import Iso7816Card
from drivers.smartcard.pcsc import PcscContext, resolve_reader
from drivers.smartcard.socialsecurity import (
    SocialSecurityCard,
    load_layout,
    read_card_records,
)
from drivers.smartcard.spec import SmartcardOptions
from govedge.health import HealthState
from govedge.logs import fields

log = logging.getLogger("govedge.drivers.smartcard")

KIND = "smartcard"
SCHEME = "pcsc://"


def parse_url(url: str) -> str | None:
    """The reader name (or name part) a URL designates; None for 'the first reader'."""
    if url.lower().startswith(SCHEME):
        return unquote(url[len(SCHEME) :]) or None
    return url or None


class SmartcardDriver:
    """Card presence in one PC/SC reader, and the social-security card read on demand."""

    kind = KIND

    def __init__(self, reader: str | None) -> None:
        self.wanted = reader
        self.reader: str | None = None
        self._context = PcscContext()
        self._present: bool | None = None
        self._counters = {"insertions": 0, "removals": 0, "polls": 0}
        self._errors = 0
        self._health = HealthReport(HealthState.OFFLINE, "not opened")

    def open(self) -> None:
        """Reach pcscd and find the reader; NoDeviceError (no_device) if either is missing."""
        self._guard(self._find_reader)

    def close(self) -> None:
        """Release the PC/SC context and forget the card state; safe to call twice."""
        self._context.close()
        self._present = None

    def _find_reader(self) -> str:
        self.reader = resolve_reader(self._context.readers(), self.wanted)
        return self.reader

    def _guard(self, func: Any) -> Any:
        try:
            result = func()
        except DriverError as exc:
            self._errors += 1
            self._health = HealthReport(exc.health, str(exc), self._errors, dict(self._counters))
            raise
        self._health = HealthReport(
            HealthState.ONLINE, self.reader or "", self._errors, dict(self._counters)
        )
        return result

    def poll(self) -> Mapping[str, float]:
        """``{"card_present": 1.0}`` when a card is in the reader, else 0.0."""

        def once() -> Mapping[str, float]:
            self._counters["polls"] += 1
            present = self._context.state(self._find_reader()).present
            if self._present is not None and present != self._present:
                event = "card_inserted" if present else "card_removed"
                self._counters["insertions" if present else "removals"] += 1
                log.info(event, extra=fields(reader=self.reader))
            self._present = present
            return {"card_present": 1.0 if present else 0.0}

        result: Mapping[str, float] = self._guard(once)
        return result

    def health(self) -> HealthReport:
        """The state after the last operation; no_device while pcscd or the reader is missing."""
        return self._health

    def wait_for_card(self, timeout: float) -> None:
        """Block until a card is in the reader; CardTimeoutError after ``timeout`` seconds."""
        self._guard(lambda: self._context.wait_for_card(self._find_reader(), timeout))

    def wait_for_removal(self, timeout: float) -> None:
        """Block until the reader is empty (the citizen took the card back), or time out."""
        self._guard(lambda: self._context.wait_for_removal(self._find_reader(), timeout))

    def read_social_security(self, reveal: bool = False) -> dict[str, str]:
        """Read the social-security card in the reader; masked unless ``reveal``."""

        def once() -> dict[str, str]:
            reader = self._find_reader()
            if not self._context.state(reader).present:
                raise NoCardError(f"no card in {reader!r}: insert the social-security card")
            with self._context.connect(reader) as card:
                layout = load_layout()
                records = read_card_records(Iso7816Card(card.transmit), layout)
                result = SocialSecurityCard(
                    records.values, layout, card.atr, reader, records.missing
                )
                try:
                    data = result.as_dict(reveal=reveal)
                finally:
                    result.wipe()
                if records.missing:
                    log.info(
                        "card_records_missing",
                        extra=fields(reader=reader, missing=",".join(records.missing)),
                    )
                log.info("card_read", extra=fields(reader=reader, fields_read=len(data)))
                return data

        data: dict[str, str] = self._guard(once)
        return data


def create(url: str, options: SmartcardOptions | Mapping[str, Any]) -> SmartcardDriver:
    """Build (not open) the driver for the reader at ``url``."""
    opts = options_of(SmartcardOptions, options)
    return SmartcardDriver(opts.reader or parse_url(url))
