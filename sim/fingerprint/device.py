"""The simulated R30x module's behaviour: bytes in, bytes out (sans-I/O).

It answers every command the driver uses from an in-memory template library, two character
buffers and an image buffer. What lies on the sensor is set from outside (:meth:`place_finger`,
:meth:`lift_finger`); faults are injected for the next answers (:meth:`inject`) or as a forced
confirmation code for one instruction (:meth:`force_code`).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from drivers.fingerprint import codes
from drivers.fingerprint.codec import (
    DEFAULT_ADDRESS,
    HEADER_SIZE,
    PID_ACK,
    PID_COMMAND,
    PID_DATA,
    PID_END_DATA,
    Packet,
    PacketParser,
    encode_data,
    encode_packet,
)
from drivers.fingerprint.commands import Instruction, SystemParameters
from sim.fingerprint.templates import DEFAULT_TEMPLATE_SIZE, match_score, synthetic_template

FAULTS = ("bad_checksum", "torn", "silent", "noise", "wrong_password")
QUALITIES = ("good", "messy", "few_features", "capture_fail")
PACKET_SIZE_CODES = {32: 0, 64: 1, 128: 2, 256: 3}
SYSTEM_ID = 0x0009


@dataclass(slots=True)
class Finger:
    """What lies on the sensor: a simulated finger's name and how well it images."""

    name: str
    quality: str = "good"
    tap: bool = False  # lifted after each capture, placed again after one empty poll


class SimulatedModule:
    """An R30x module: library, buffers, sensor, password and injected faults."""

    def __init__(
        self,
        *,
        library_size: int = 200,
        template_size: int = DEFAULT_TEMPLATE_SIZE,
        packet_size: int = 128,
        address: int = DEFAULT_ADDRESS,
        password: int = 0,
        security_level: int = 3,
        baudrate: int = 57600,
    ) -> None:
        if packet_size not in PACKET_SIZE_CODES:
            raise ValueError(f"packet size {packet_size} is not 32, 64, 128 or 256")
        self.library_size = library_size
        self.template_size = template_size
        self.packet_size = packet_size
        self.address = address
        self.password = password
        self.security_level = security_level
        self.baudrate = baudrate
        self.library: dict[int, bytes] = {}
        self.buffers: dict[int, bytes | None] = {1: None, 2: None}
        self.image: Finger | None = None
        self.finger: Finger | None = None
        self.verified = password == 0
        self.received: list[int] = []  # instruction codes, in order (for tests and logs)
        self._gap = False
        self._faults: deque[str] = deque()
        self._forced: dict[int, deque[int]] = {}
        self._download: tuple[int, bytearray] | None = None
        self._parser = PacketParser()
        self._lock = threading.RLock()

    # -- controls ------------------------------------------------------------------------------

    def place_finger(self, name: str, quality: str = "good", *, tap: bool = False) -> None:
        """Put the simulated finger ``name`` on the sensor (``tap``: lift after each capture)."""
        if quality not in QUALITIES:
            raise ValueError(f"quality {quality!r} is not one of {', '.join(QUALITIES)}")
        with self._lock:
            self.finger = Finger(name, quality, tap)
            self._gap = False

    def lift_finger(self) -> None:
        """Take the finger off the sensor; the next GenImg finds no finger."""
        with self._lock:
            self.finger = None
            self._gap = False

    def enroll(self, template_id: int, finger: str) -> None:
        """Store the template of ``finger`` at ``template_id`` directly."""
        with self._lock:
            self.library[template_id] = synthetic_template(finger, self.template_size)

    def inject(self, fault: str, times: int = 1) -> None:
        """Spoil the next ``times`` answers: bad_checksum, torn, silent, noise, wrong_password.

        ``wrong_password`` answers the next VfyPwd with 0x13 whatever the password.
        """
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        with self._lock:
            self._faults.extend([fault] * times)

    def force_code(self, instruction: int, code: int, times: int = 1) -> None:
        """Answer the next ``times`` commands ``instruction`` with confirmation ``code``."""
        with self._lock:
            self._forced.setdefault(instruction, deque()).extend([code] * times)

    def parameters(self) -> SystemParameters:
        """The module's system parameters as ReadSysPara reports them (status bits follow the
        password check and the image buffer).
        """
        status = (0x02 if self.verified else 0) | (0x04 if self.image is not None else 0)
        return SystemParameters(
            status=status,
            system_id=SYSTEM_ID,
            library_size=self.library_size,
            security_level=self.security_level,
            address=self.address,
            packet_size_code=PACKET_SIZE_CODES[self.packet_size],
            baud_setting=self.baudrate // 9600,
        )

    # -- wire ----------------------------------------------------------------------------------

    def receive(self, data: bytes) -> list[bytes]:
        """Bytes from the host in; the byte chunks to send back, in order."""
        with self._lock:
            out: list[bytes] = []
            for packet in self._parser.feed(data):
                if packet.address != self.address:
                    continue  # a module answers only its own address
                out.extend(self._answer(packet))
            return out

    def _answer(self, packet: Packet) -> list[bytes]:
        if packet.pid in (PID_DATA, PID_END_DATA):
            self._take_data(packet)
            return []
        if packet.pid != PID_COMMAND or not packet.payload:
            return [self._ack(codes.PACKET_RECEIVE_ERROR)]
        self._download = None
        instruction = packet.payload[0]
        self.received.append(instruction)
        fault = self._faults.popleft() if self._faults else None
        if fault == "wrong_password" and instruction != Instruction.VFY_PWD:
            self._faults.appendleft(fault)
            fault = None
        forced = self._forced.get(instruction)
        if fault == "wrong_password":
            answers = [self._ack(codes.WRONG_PASSWORD)]
        elif forced:
            answers = [self._ack(forced.popleft())]
        else:
            answers = self._execute(instruction, packet.payload[1:])
        return _spoil(answers, fault)

    def _ack(self, code: int, results: bytes = b"") -> bytes:
        return encode_packet(PID_ACK, bytes([code]) + results, self.address)

    def _take_data(self, packet: Packet) -> None:
        if self._download is None:
            return
        buffer_id, data = self._download
        data += packet.payload
        if len(data) > 4 * self.template_size:
            self._download = None
            return
        if packet.pid == PID_END_DATA:
            self.buffers[buffer_id] = bytes(data)
            self._download = None

    # -- instructions --------------------------------------------------------------------------

    def _execute(self, instruction: int, args: bytes) -> list[bytes]:
        if instruction == Instruction.VFY_PWD:
            if len(args) != 4:
                return [self._ack(codes.PACKET_RECEIVE_ERROR)]
            if int.from_bytes(args, "big") != self.password:
                return [self._ack(codes.WRONG_PASSWORD)]
            self.verified = True
            return [self._ack(codes.OK)]
        if not self.verified:
            return [self._ack(codes.PASSWORD_REQUIRED)]
        handler = _HANDLERS.get(instruction)
        if handler is None:
            return [self._ack(codes.PACKET_RECEIVE_ERROR)]
        arity, method = handler
        if len(args) != arity:
            return [self._ack(codes.PACKET_RECEIVE_ERROR)]
        result: list[bytes] = method(self, args)
        return result

    def _buffer_id(self, value: int) -> int | None:
        return value if value in (1, 2) else None

    def _gen_img(self, _: bytes) -> list[bytes]:
        finger = self.finger
        if finger is None or self._gap:
            self._gap = False
            return [self._ack(codes.NO_FINGER)]
        if finger.quality == "capture_fail":
            return [self._ack(codes.IMAGE_FAIL)]
        self.image = finger
        if finger.tap:
            self._gap = True
        return [self._ack(codes.OK)]

    def _img2tz(self, args: bytes) -> list[bytes]:
        buffer_id = self._buffer_id(args[0])
        if buffer_id is None:
            return [self._ack(codes.PACKET_RECEIVE_ERROR)]
        if self.image is None:
            return [self._ack(codes.INVALID_IMAGE)]
        if self.image.quality == "messy":
            return [self._ack(codes.IMAGE_MESSY)]
        if self.image.quality == "few_features":
            return [self._ack(codes.FEATURE_FAIL)]
        self.buffers[buffer_id] = synthetic_template(self.image.name, self.template_size)
        return [self._ack(codes.OK)]

    def _match(self, _: bytes) -> list[bytes]:
        first, second = self.buffers[1], self.buffers[2]
        if first is None or second is None or first != second:
            return [self._ack(codes.NO_MATCH)]
        return [self._ack(codes.OK, match_score(first).to_bytes(2, "big"))]

    def _search(self, args: bytes) -> list[bytes]:
        buffer_id = self._buffer_id(args[0])
        if buffer_id is None:
            return [self._ack(codes.PACKET_RECEIVE_ERROR)]
        start = int.from_bytes(args[1:3], "big")
        count = int.from_bytes(args[3:5], "big")
        wanted = self.buffers[buffer_id]
        if wanted is not None:
            for page in sorted(self.library):
                if start <= page < start + count and self.library[page] == wanted:
                    results = page.to_bytes(2, "big") + match_score(wanted).to_bytes(2, "big")
                    return [self._ack(codes.OK, results)]
        return [self._ack(codes.NOT_FOUND, bytes(4))]

    def _reg_model(self, _: bytes) -> list[bytes]:
        first, second = self.buffers[1], self.buffers[2]
        if first is None or second is None or first != second:
            return [self._ack(codes.ENROLL_MISMATCH)]
        return [self._ack(codes.OK)]

    def _store(self, args: bytes) -> list[bytes]:
        buffer_id = self._buffer_id(args[0])
        page = int.from_bytes(args[1:3], "big")
        if buffer_id is None:
            return [self._ack(codes.PACKET_RECEIVE_ERROR)]
        if page >= self.library_size:
            return [self._ack(codes.BAD_LOCATION)]
        template = self.buffers[buffer_id]
        if template is None:
            return [self._ack(codes.TEMPLATE_READ_FAIL)]
        self.library[page] = template
        return [self._ack(codes.OK)]

    def _load_char(self, args: bytes) -> list[bytes]:
        buffer_id = self._buffer_id(args[0])
        page = int.from_bytes(args[1:3], "big")
        if buffer_id is None:
            return [self._ack(codes.PACKET_RECEIVE_ERROR)]
        if page >= self.library_size:
            return [self._ack(codes.BAD_LOCATION)]
        template = self.library.get(page)
        if template is None:
            return [self._ack(codes.TEMPLATE_READ_FAIL)]
        self.buffers[buffer_id] = template
        return [self._ack(codes.OK)]

    def _up_char(self, args: bytes) -> list[bytes]:
        buffer_id = self._buffer_id(args[0])
        if buffer_id is None:
            return [self._ack(codes.PACKET_RECEIVE_ERROR)]
        template = self.buffers[buffer_id]
        if template is None:
            return [self._ack(codes.UPLOAD_FEATURE_FAIL)]
        return [self._ack(codes.OK), *encode_data(template, self.packet_size, self.address)]

    def _down_char(self, args: bytes) -> list[bytes]:
        buffer_id = self._buffer_id(args[0])
        if buffer_id is None:
            return [self._ack(codes.PACKET_RECEIVE_ERROR)]
        self._download = (buffer_id, bytearray())
        return [self._ack(codes.OK)]

    def _delete_char(self, args: bytes) -> list[bytes]:
        page = int.from_bytes(args[0:2], "big")
        count = int.from_bytes(args[2:4], "big")
        if page >= self.library_size or page + count > self.library_size:
            return [self._ack(codes.BAD_LOCATION)]
        for key in range(page, page + count):
            self.library.pop(key, None)
        return [self._ack(codes.OK)]

    def _empty(self, _: bytes) -> list[bytes]:
        self.library.clear()
        return [self._ack(codes.OK)]

    def _read_sys_para(self, _: bytes) -> list[bytes]:
        return [self._ack(codes.OK, self.parameters().encode())]

    def _template_num(self, _: bytes) -> list[bytes]:
        return [self._ack(codes.OK, len(self.library).to_bytes(2, "big"))]


_Handler = tuple[int, Callable[[SimulatedModule, bytes], list[bytes]]]

_HANDLERS: dict[int, _Handler] = {
    Instruction.GEN_IMG: (0, SimulatedModule._gen_img),
    Instruction.IMG2TZ: (1, SimulatedModule._img2tz),
    Instruction.MATCH: (0, SimulatedModule._match),
    Instruction.SEARCH: (5, SimulatedModule._search),
    Instruction.HIGH_SPEED_SEARCH: (5, SimulatedModule._search),
    Instruction.REG_MODEL: (0, SimulatedModule._reg_model),
    Instruction.STORE: (3, SimulatedModule._store),
    Instruction.LOAD_CHAR: (3, SimulatedModule._load_char),
    Instruction.UP_CHAR: (1, SimulatedModule._up_char),
    Instruction.DOWN_CHAR: (1, SimulatedModule._down_char),
    Instruction.DELETE_CHAR: (4, SimulatedModule._delete_char),
    Instruction.EMPTY: (0, SimulatedModule._empty),
    Instruction.READ_SYS_PARA: (0, SimulatedModule._read_sys_para),
    Instruction.TEMPLATE_NUM: (0, SimulatedModule._template_num),
}

_NOISE = bytes([0x00, 0x55, 0xEF, 0x13, 0xFF, 0x42, 0xEF])


def _spoil(answers: list[bytes], fault: str | None) -> list[bytes]:
    """Apply one line fault to the first answer packet."""
    if fault is None or not answers:
        return answers
    first, rest = answers[0], answers[1:]
    if fault == "silent":
        return []
    if fault == "bad_checksum":
        return [first[:-1] + bytes([first[-1] ^ 0x5A]), *rest]
    if fault == "torn":
        # The header arrives whole, the packet breaks off in its body; then the whole answer.
        cut = max(HEADER_SIZE + 1, len(first) // 2)
        return [first[:cut], first, *rest]
    if fault == "noise":
        return [_NOISE + first, *rest]
    return answers
