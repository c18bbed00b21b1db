"""A simulated SAM_V ID-card reader on a pseudo-terminal.

The simulator owns both ends of a pty: it serves the master in a thread and keeps the slave open
in raw mode; a driver opens the slave path (``.url``) exactly like a USB-serial reader. It answers
GA/T 467 frames from its deck of synthetic cards and can inject faults:

* ``no_card``: find card answers 0x80;
* ``card_removed``: the card is lifted during the base-info read (0x41, then no card);
* ``bad_checksum``: the first base-info answer goes out with a corrupted checksum;
* ``torn_frame``: the first base-info answer stops half-way;
* ``noise``: garbage (including preamble fragments) before every answer;
* ``slow_sam``: every answer is delayed by ``delay`` seconds;
* ``sam_fault`` / ``sam_unauthorised``: every command answers 0x60 / 0x66;
* ``status:CCPP:SS``: command CC PP answers status SS (hex), e.g. ``status:3001:33``.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from drivers.idcard.codec import MIN_COMMAND_LENGTH, Command, FrameParser, encode_response
from drivers.idcard.status import Status
from sim.idcard.deck import DEFAULT_CARD, SimCard, build_deck
from sim.pty import close_fds, open_raw_pty

SIMPLE_FAULTS = {
    "no_card",
    "card_removed",
    "bad_checksum",
    "torn_frame",
    "noise",
    "slow_sam",
    "sam_fault",
    "sam_unauthorised",
}
# A SAM id that vendor tools print as 05.01-20201231-0000123456-0987654321.
SAM_ID = (
    (5).to_bytes(2, "little")
    + (1).to_bytes(2, "little")
    + (20201231).to_bytes(4, "little")
    + (123456).to_bytes(4, "little")
    + (987654321).to_bytes(4, "little")
)
NOISE = b"\x00\xff\xaa\xaa\x96\x13\x37\xaa"


class SimConfigError(ValueError):
    """A fault or card name the simulator does not know."""


@dataclass(slots=True)
class Faults:
    """The active fault injections."""

    active: set[str] = field(default_factory=set)
    status: dict[tuple[int, int], int] = field(default_factory=dict)
    delay: float = 0.5

    @classmethod
    def parse(cls, names: Iterable[str], delay: float = 0.5) -> Faults:
        """Faults from their names: a simple fault, or ``status:CCPP:SS`` (answer command CC
        parameter PP with status SS, in hex).

        Raises SimConfigError for an unknown or malformed name.
        """
        faults = cls(delay=delay)
        for name in names:
            if name in SIMPLE_FAULTS:
                faults.active.add(name)
            elif name.startswith("status:"):
                try:
                    _, command, code = name.split(":")
                    key = (int(command[:2], 16), int(command[2:4], 16))
                    faults.status[key] = int(code, 16)
                    if len(command) != 4 or not 0 <= faults.status[key] <= 0xFF:
                        raise ValueError(name)
                except ValueError:
                    raise SimConfigError(
                        f"bad status fault {name!r}: use status:CCPP:SS in hex, e.g. status:3001:41"
                    ) from None
            else:
                raise SimConfigError(
                    f"unknown fault {name!r}; known: {', '.join(sorted(SIMPLE_FAULTS))}, "
                    "status:CCPP:SS"
                )
        return faults


class IdCardSimulator:
    """The reader on a pty. Use as a context manager, or ``start()`` / ``close()``."""

    def __init__(
        self,
        card: str | None = DEFAULT_CARD,
        faults: Iterable[str] = (),
        delay: float = 0.5,
        deck: dict[str, SimCard] | None = None,
    ) -> None:
        self.deck = deck if deck is not None else build_deck()
        self.faults = Faults.parse(faults, delay)
        self._lock = threading.Lock()
        self.card: SimCard | None = None
        self._selected = False
        self._found = False
        self.insert_card(card)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._master = -1
        self._slave = -1
        self.url = ""
        # The last commands received, for tests and for a technician watching the simulator.
        self.received: deque[Command] = deque(maxlen=1000)
        self.parser = FrameParser(min_length=MIN_COMMAND_LENGTH)
        self._fired: set[str] = set()

    # -- control -----------------------------------------------------------------------------

    def insert_card(self, key: str | None) -> None:
        """Put the card ``key`` on the reader (None: take any card away)."""
        if key is not None and key not in self.deck:
            raise SimConfigError(f"unknown card {key!r}; deck: {', '.join(self.deck)}")
        with self._lock:
            self.card = self.deck[key] if key is not None else None
            self._selected = False
            self._found = False

    def set_faults(self, faults: Iterable[str], delay: float | None = None) -> None:
        """Replace the active faults; one-shot faults (bad_checksum, torn_frame) re-arm."""
        parsed = Faults.parse(faults, self.faults.delay if delay is None else delay)
        with self._lock:
            self.faults = parsed
            self._fired.clear()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> IdCardSimulator:
        """Open the pty (``url`` is its slave path) and serve on it in a thread."""
        self._master, self._slave, self.url = open_raw_pty(nonblocking_master=True)
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="idcard-sim", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and close the pty; waits up to 5 s for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        close_fds(self._master, self._slave)
        self._master = self._slave = -1

    def __enter__(self) -> IdCardSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- serving -----------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], 0.05)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            try:
                data = os.read(self._master, 4096)
            except BlockingIOError:
                continue
            except OSError:
                # EIO: no process has the slave open right now; wait for the next one.
                self._stop.wait(0.02)
                continue
            bad_before = self.parser.counters.bad_checksum
            bad_length_before = self.parser.counters.bad_length
            bodies = self.parser.feed(data)
            if self.parser.counters.bad_checksum > bad_before:
                self._send(encode_response(Status.BAD_CHECKSUM))
            if self.parser.counters.bad_length > bad_length_before:
                self._send(encode_response(Status.BAD_LENGTH))
            for body in bodies:
                command = Command.decode(body)
                self.received.append(command)
                if "slow_sam" in self.faults.active and self._stop.wait(self.faults.delay):
                    return
                self._send(self._answer(command))

    def _send(self, frame: bytes) -> None:
        if "noise" in self.faults.active:
            frame = NOISE + frame
        view = memoryview(frame)
        deadline = time.monotonic() + 2.0
        while view and not self._stop.is_set() and time.monotonic() < deadline:
            try:
                written = os.write(self._master, view)
            except BlockingIOError:
                select.select([], [self._master], [], 0.05)
                continue
            except OSError:
                return
            view = view[written:]

    def _once(self, fault: str) -> bool:
        """True the first time an active one-shot ``fault`` applies."""
        if fault in self.faults.active and fault not in self._fired:
            self._fired.add(fault)
            return True
        return False

    def _answer(self, command: Command) -> bytes:
        with self._lock:
            return self._answer_locked(command)

    def _answer_locked(self, command: Command) -> bytes:
        key = (command.cmd, command.para)
        if "sam_fault" in self.faults.active:
            return encode_response(Status.SELF_TEST_FAILED)
        if "sam_unauthorised" in self.faults.active:
            return encode_response(Status.SAM_NOT_AUTHORISED)
        if key in self.faults.status:
            return encode_response(self.faults.status[key])
        card = None if "no_card" in self.faults.active else self.card
        if key == (0x10, 0xFF):
            self._found = self._selected = False
            return encode_response(Status.OK)
        if key == (0x11, 0xFF):
            return encode_response(Status.OK)
        if key == (0x12, 0xFF):
            return encode_response(Status.OK, SAM_ID)
        if command.cmd == 0x60 and command.para <= 0x04:
            return encode_response(Status.OK)  # serial speed change: accepted, nothing to do
        if key == (0x20, 0x01):
            self._selected = False
            self._found = card is not None
            if card is None:
                return encode_response(Status.FIND_FAILED)
            return encode_response(Status.CARD_FOUND, bytes(4))
        if key == (0x20, 0x02):
            if card is None or not self._found:
                return encode_response(Status.SELECT_FAILED)
            self._selected = True
            return encode_response(Status.OK, bytes(8))
        if key in ((0x30, 0x01), (0x30, 0x10), (0x30, 0x03), (0x30, 0x05)):
            if card is None or not self._selected:
                return encode_response(Status.READ_FAILED)
            return self._read(card, key)
        return encode_response(Status.BAD_COMMAND)

    def _read(self, card: SimCard, key: tuple[int, int]) -> bytes:
        if key == (0x30, 0x05):
            return encode_response(Status.OK, card.chip_id)
        if key == (0x30, 0x03):
            data = card.extra_address()
            return encode_response(Status.OK, data) if data else encode_response(Status.NO_CONTENT)
        if "card_removed" in self.faults.active:
            self.card = None
            self._found = self._selected = False
            return encode_response(Status.READ_FAILED)
        frame = encode_response(Status.OK, card.base_info(with_fingerprint=key == (0x30, 0x10)))
        if self._once("bad_checksum"):
            return frame[:-1] + bytes([frame[-1] ^ 0x5A])
        if self._once("torn_frame"):
            return frame[: len(frame) // 2]
        return frame
