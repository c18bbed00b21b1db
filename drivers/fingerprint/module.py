"""The blocking R30x driver: commands and flows over a serial transport opened from a URL.

``FingerprintModule("/dev/ttyUSB0")`` (57600 baud unless the URL says otherwise), then
:meth:`~FingerprintModule.open`, which opens the line and verifies the handshake password.
Every call blocks; the edge agent calls them from a worker thread.

Each command is sent as one packet and answered by one acknowledge packet. An answer that
arrives torn or with a bad checksum is counted and the command is sent again (``retries``
times); the module's own "packet receive error" (0x01) is retried the same way.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from drivers.base import HealthReport
from drivers.errors import DriverError
from drivers.fingerprint import codes
from drivers.fingerprint import commands as cmd
from drivers.fingerprint.codec import (
    DEFAULT_ADDRESS,
    PID_ACK,
    PID_DATA,
    PID_END_DATA,
    Packet,
    PacketParser,
    encode_command,
    encode_data,
)
from drivers.fingerprint.errors import (
    FingerNotLiftedError,
    FingerprintFrameError,
    FingerprintTimeout,
    FingerprintTransportError,
    NoFingerError,
    ProtocolError,
)
from drivers.fingerprint.spec import FingerprintOptions
from drivers.transport import ByteTransport, open_serial
from govedge.health import HealthState
from govedge.logs import fields, get_logger

log = get_logger(__name__)

try:  # termios raises its own error (not an OSError) when a pty's other end is gone
    from termios import error as _TermiosError

    _IO_ERRORS: tuple[type[BaseException], ...] = (OSError, _TermiosError)
except ImportError:  # pragma: no cover - not a POSIX system
    _IO_ERRORS = (OSError,)

_SPEC = FingerprintOptions()
"""The driver option defaults (drivers.fingerprint.spec), the one place they are declared."""
DEFAULT_BAUDRATE = _SPEC.baudrate
MAX_TEMPLATE_BYTES = 4096  # bound on an UpChar transfer; real templates are 512..1536 bytes


@dataclass(frozen=True, slots=True)
class ModuleSettings:
    """How to talk to one module. Every default suits an R307 as shipped."""

    password: int = cmd.DEFAULT_PASSWORD
    address: int = DEFAULT_ADDRESS
    baudrate: int = DEFAULT_BAUDRATE
    timeout: float = _SPEC.timeout  # seconds for one answer
    finger_timeout: float = _SPEC.finger_timeout  # to wait for a finger to be placed or lifted
    poll_interval: float = _SPEC.poll_interval  # between GenImg polls while waiting for a finger
    quiet_gap: float = _SPEC.quiet_gap  # silence after which a half-received packet is torn
    retries: int = _SPEC.retries  # resends of a command whose answer was garbled
    high_speed_search: bool = _SPEC.high_speed_search  # HighSpeedSearch (0x1B) for Search


class _Garbled(Exception):
    """The answer to a command was rejected (bad checksum, torn) and nothing valid followed."""


class FingerprintModule:
    """One R30x module on a serial line."""

    kind = "fingerprint"

    def __init__(
        self,
        url: str,
        settings: ModuleSettings | None = None,
        *,
        opener: Callable[..., ByteTransport] = open_serial,
    ) -> None:
        self.url = url
        self.settings = settings or ModuleSettings()
        self._opener = opener
        self._transport: ByteTransport | None = None
        self._parser = PacketParser(address=self.settings.address)
        self._queue: deque[Packet] = deque()
        self._params: cmd.SystemParameters | None = None
        self._timeout_set: float | None = None
        self._state = HealthState.OFFLINE
        self._detail = "not opened"
        self.counters: dict[str, int] = {
            "commands": 0,
            "retries": 0,
            "timeouts": 0,
            "errors": 0,
        }

    # -- lifecycle -----------------------------------------------------------------------------

    def open(self) -> None:
        """Open the line, verify the password and read the system parameters."""
        if self._transport is not None:
            return
        self._transport = self._opener(
            self.url, timeout=self.settings.timeout, baudrate=self.settings.baudrate
        )
        self._timeout_set = None
        try:
            self.verify_password()
            self._params = self.read_sys_para()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the line; safe to call twice."""
        transport, self._transport = self._transport, None
        if transport is not None:
            try:
                transport.close()
            except OSError:
                pass
        if self._state is HealthState.ONLINE:
            self._state, self._detail = HealthState.OFFLINE, "closed"

    def __enter__(self) -> FingerprintModule:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def health(self) -> HealthReport:
        """The state after the last operation, with parser and command counters."""
        counters = dict(self.counters)
        counters.update(self._parser.counters.as_dict())
        return HealthReport(
            state=self._state,
            detail=self._detail,
            errors=self.counters["errors"] + self._parser.counters.rejected,
            counters=counters,
        )

    @property
    def parameters(self) -> cmd.SystemParameters:
        """The system parameters read at open (read again if not yet known)."""
        if self._params is None:
            self._params = self.read_sys_para()
        return self._params

    # -- packet exchange -----------------------------------------------------------------------

    def _require_transport(self) -> ByteTransport:
        if self._transport is None:
            raise FingerprintTransportError(f"fingerprint module at {self.url} is not open")
        return self._transport

    def _set_timeout(self, transport: ByteTransport, seconds: float) -> None:
        seconds = max(0.001, round(seconds, 3))
        if self._timeout_set != seconds:
            transport.timeout = seconds
            self._timeout_set = seconds

    def _write(self, data: bytes) -> None:
        transport = self._require_transport()
        try:
            transport.write(data)
            transport.flush()
        except _IO_ERRORS as exc:
            raise FingerprintTransportError(f"cannot write to {self.url}: {exc}") from None

    def _discard_input(self) -> None:
        transport = self._require_transport()
        self._queue.clear()
        self._parser.reset()
        try:
            transport.reset_input_buffer()
        except _IO_ERRORS as exc:
            raise FingerprintTransportError(f"cannot use {self.url}: {exc}") from None

    def _read_packet(self, deadline: float, rejected_before: int) -> Packet:
        """The next valid packet; _Garbled if answers were rejected and the line went quiet."""
        transport = self._require_transport()
        parser = self._parser
        while True:
            if self._queue:
                return self._queue.popleft()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if parser.counters.rejected > rejected_before:
                    raise _Garbled
                raise FingerprintTimeout(f"no answer from the fingerprint module at {self.url}")
            suspicious = parser.pending() > 0 or parser.counters.rejected > rejected_before
            self._set_timeout(
                transport, min(remaining, self.settings.quiet_gap) if suspicious else remaining
            )
            waiting = getattr(transport, "in_waiting", 0)
            size = waiting if isinstance(waiting, int) and waiting > 0 else 1
            try:
                data = transport.read(min(size, 4096))
            except _IO_ERRORS as exc:
                raise FingerprintTransportError(f"cannot read from {self.url}: {exc}") from None
            if data:
                self._queue.extend(parser.feed(data))
                continue
            # The line is quiet: a half-received packet will not be completed.
            if parser.pending():
                self._queue.extend(parser.drop_partial())
                if self._queue:
                    continue
            if parser.counters.rejected > rejected_before:
                raise _Garbled

    def _exchange(self, payload: bytes, *, data_out: bytes | None = None) -> tuple[int, bytes]:
        """Send one command (and, for DownChar, its data); return (confirmation, results)."""
        name = cmd.name_of(payload[0])
        packet = encode_command(payload, self.settings.address)
        self.counters["commands"] += 1
        for attempt in range(self.settings.retries + 1):
            self._discard_input()
            rejected_before = self._parser.counters.rejected
            self._write(packet)
            try:
                answer = self._read_packet(
                    time.monotonic() + self.settings.timeout, rejected_before
                )
            except _Garbled:
                if attempt < self.settings.retries:
                    self.counters["retries"] += 1
                    continue
                raise FingerprintFrameError(
                    f"{name}: every answer from {self.url} was torn or failed its checksum"
                ) from None
            except FingerprintTimeout:
                self.counters["timeouts"] += 1
                raise
            if answer.pid != PID_ACK or not answer.payload:
                raise ProtocolError(
                    f"{name}: expected an acknowledge, got packet id 0x{answer.pid:02X}"
                )
            code = answer.payload[0]
            if code == codes.PACKET_RECEIVE_ERROR and attempt < self.settings.retries:
                self.counters["retries"] += 1
                continue
            if code == codes.OK and data_out is not None:
                chunk = self._params.packet_size if self._params else 128
                for data_packet in encode_data(data_out, chunk, self.settings.address):
                    self._write(data_packet)
            return code, answer.payload[1:]
        raise AssertionError("unreachable")  # pragma: no cover

    def _read_data(self) -> bytes:
        """The data packets that follow an UpChar acknowledge, joined."""
        received = bytearray()
        rejected_before = self._parser.counters.rejected
        while True:
            try:
                packet = self._read_packet(
                    time.monotonic() + self.settings.timeout, rejected_before
                )
            except _Garbled:
                raise FingerprintFrameError(
                    f"UpChar: a data packet from {self.url} was torn or failed its checksum"
                ) from None
            if packet.pid not in (PID_DATA, PID_END_DATA):
                raise ProtocolError(f"UpChar: expected data, got packet id 0x{packet.pid:02X}")
            received += packet.payload
            if len(received) > MAX_TEMPLATE_BYTES:
                raise ProtocolError(f"UpChar: more than {MAX_TEMPLATE_BYTES} bytes of data")
            if packet.pid == PID_END_DATA:
                return bytes(received)

    def _run(
        self,
        payload: bytes,
        *,
        accept: tuple[int, ...] = (codes.OK,),
        data_out: bytes | None = None,
    ) -> tuple[int, bytes]:
        """Exchange one command and turn an error confirmation into its exception."""
        try:
            code, results = self._exchange(payload, data_out=data_out)
        except DriverError as exc:
            self._note_error(exc)
            raise
        if code not in accept:
            error = codes.error_for(code, cmd.name_of(payload[0]))
            self._note_error(error)
            raise error
        self._state, self._detail = HealthState.ONLINE, ""
        return code, results

    def _note_error(self, exc: DriverError) -> None:
        self.counters["errors"] += 1
        self._state, self._detail = exc.health, str(exc)

    def _decode(self, decode: Callable[[], Any]) -> Any:
        try:
            return decode()
        except cmd.AnswerLayoutError as exc:
            error = ProtocolError(str(exc))
            self._note_error(error)
            raise error from None

    # -- commands ------------------------------------------------------------------------------

    def verify_password(self) -> None:
        """VfyPwd with the configured password (PasswordError if refused)."""
        self._run(cmd.vfy_pwd(self.settings.password))

    def read_sys_para(self) -> cmd.SystemParameters:
        """ReadSysPara: library size, packet size, address, security level, baud rate."""
        _, results = self._run(cmd.read_sys_para())
        params: cmd.SystemParameters = self._decode(lambda: cmd.SystemParameters.decode(results))
        self._params = params
        return params

    def template_count(self) -> int:
        """TemplateNum: how many templates the library holds."""
        _, results = self._run(cmd.template_num())
        count: int = self._decode(lambda: cmd.decode_u16(results, "TemplateNum"))
        return count

    def gen_img(self) -> bool:
        """GenImg: True if an image was captured, False if no finger is on the sensor."""
        code, _ = self._run(cmd.gen_img(), accept=(codes.OK, codes.NO_FINGER))
        return code == codes.OK

    def img2tz(self, buffer_id: int) -> None:
        """Img2Tz: character file from the captured image into buffer 1 or 2."""
        self._run(cmd.img2tz(buffer_id))

    def match(self) -> int | None:
        """Match buffers 1 and 2: the score, or None if they do not match."""
        code, results = self._run(cmd.match(), accept=(codes.OK, codes.NO_MATCH))
        if code == codes.NO_MATCH:
            return None
        score: int = self._decode(lambda: cmd.decode_u16(results, "Match"))
        return score

    def search(
        self, buffer_id: int = cmd.CHAR_BUFFER_1, start: int = 0, count: int | None = None
    ) -> tuple[int, int] | None:
        """Search the library for a buffer: (template id, score), or None if not found."""
        pages = self.parameters.library_size - start if count is None else count
        build = cmd.high_speed_search if self.settings.high_speed_search else cmd.search
        code, results = self._run(
            build(buffer_id, start, max(0, pages)), accept=(codes.OK, codes.NOT_FOUND)
        )
        if code == codes.NOT_FOUND:
            return None
        found: tuple[int, int] = self._decode(lambda: cmd.decode_search(results))
        return found

    def reg_model(self) -> None:
        """RegModel: combine buffers 1 and 2 into a template (EnrollMismatchError if apart)."""
        self._run(cmd.reg_model())

    def store(self, buffer_id: int, template_id: int) -> None:
        """Store: write a buffer to the library at ``template_id``."""
        self._run(cmd.store(buffer_id, template_id))

    def load_char(self, buffer_id: int, template_id: int) -> None:
        """LoadChar: read the library's template at ``template_id`` into a buffer."""
        self._run(cmd.load_char(buffer_id, template_id))

    def up_char(self, buffer_id: int) -> bytes:
        """UpChar: the content of a buffer, sent by the module in data packets."""
        self._run(cmd.up_char(buffer_id))
        try:
            return self._read_data()
        except DriverError as exc:
            self._note_error(exc)
            raise

    def down_char(self, buffer_id: int, template: bytes) -> None:
        """DownChar: send a template into a buffer in data packets of the module's size."""
        if self._params is None:  # the packet size must be known before the data goes out
            self.read_sys_para()
        self._run(cmd.down_char(buffer_id), data_out=template)

    def delete_char(self, template_id: int, count: int = 1) -> None:
        """DeleteChar: delete ``count`` templates from ``template_id`` on."""
        self._run(cmd.delete_char(template_id, count))

    def empty(self) -> None:
        """Empty: delete every template in the library."""
        self._run(cmd.empty())

    # -- flows ---------------------------------------------------------------------------------

    def wait_for_finger(self, timeout: float | None = None) -> None:
        """Poll GenImg until an image is captured; NoFingerError after ``timeout`` seconds."""
        limit = self.settings.finger_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while not self.gen_img():
            if time.monotonic() >= deadline:
                error = NoFingerError(
                    codes.NO_FINGER, f"no finger placed within {limit:g} s", "GenImg"
                )
                self._note_error(error)
                raise error
            time.sleep(self.settings.poll_interval)

    def wait_for_lift(self, timeout: float | None = None) -> None:
        """Poll GenImg until the sensor is empty; FingerNotLiftedError after ``timeout``."""
        limit = self.settings.finger_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while self.gen_img():
            if time.monotonic() >= deadline:
                error = FingerNotLiftedError(
                    codes.OK, f"lift the finger and place it again (waited {limit:g} s)", "GenImg"
                )
                self._note_error(error)
                raise error
            time.sleep(self.settings.poll_interval)

    def capture(self, buffer_id: int = cmd.CHAR_BUFFER_1) -> None:
        """Wait for a finger, capture it and turn it into a character file in a buffer."""
        self.wait_for_finger()
        self.img2tz(buffer_id)

    def enroll(self, template_id: int) -> dict[str, Any]:
        """Two captures of the same finger, combined and stored at ``template_id``."""
        self.capture(cmd.CHAR_BUFFER_1)
        self.wait_for_lift()
        self.capture(cmd.CHAR_BUFFER_2)
        self.reg_model()
        self.store(cmd.CHAR_BUFFER_1, template_id)
        log.info("fingerprint_enrolled", extra=fields(template_id=template_id))
        return {"enrolled": True, "id": template_id}

    def verify(self, template_id: int) -> dict[str, Any]:
        """1:1: load the template at ``template_id``, capture a finger, match the two.

        The template is loaded first so that an empty or unknown id fails before anyone is
        asked to place a finger (Img2Tz into buffer 1 leaves buffer 2 alone).
        """
        self.load_char(cmd.CHAR_BUFFER_2, template_id)
        self.capture(cmd.CHAR_BUFFER_1)
        score = self.match()
        log.debug(
            "fingerprint_verified",
            extra=fields(template_id=template_id, match=score is not None),
        )
        return {"match": score is not None, "score": score or 0, "id": template_id}

    def match_features(self, features: list[bytearray]) -> dict[str, Any]:
        """1:1 against features the host holds (an ID card's): DownChar the first into buffer
        2, capture a live finger into buffer 1 (GenImg, Img2Tz), Match; each further feature
        is downloaded into buffer 2 and matched against the same capture. The best score wins.

        The feature is sent before anyone is asked for a finger, so that a module refusing it
        fails at once; buffer 2 is overwritten with zeros afterwards."""
        if not features:
            raise ValueError("no fingerprint feature to match against")
        best: int | None = None
        self.down_char(cmd.CHAR_BUFFER_2, bytes(features[0]))  # refused: nothing to clear
        try:
            self.capture(cmd.CHAR_BUFFER_1)
            for index, feature in enumerate(features):
                if index:
                    self.down_char(cmd.CHAR_BUFFER_2, bytes(feature))
                score = self.match()
                if score is not None and (best is None or score > best):
                    best = score
        finally:
            self._clear_buffer(len(features[0]))
        log.debug("fingerprint_card_matched", extra=fields(match=best is not None))
        return {"match": best is not None, "score": best or 0}

    def _clear_buffer(self, size: int) -> None:
        """Overwrite buffer 2 (the card's feature) with zeros; errors here are not the match's."""
        try:
            self.down_char(cmd.CHAR_BUFFER_2, bytes(size))
        except DriverError:
            pass

    def identify(self) -> dict[str, Any]:
        """1:N: capture and search the whole library."""
        self.capture(cmd.CHAR_BUFFER_1)
        found = self.search(cmd.CHAR_BUFFER_1)
        if found is None:
            log.debug("fingerprint_searched", extra=fields(found=False))
            return {"found": False, "id": -1, "score": 0}
        template_id, score = found
        log.debug("fingerprint_searched", extra=fields(found=True, template_id=template_id))
        return {"found": True, "id": template_id, "score": score}

    def delete(self, template_id: int, count: int = 1) -> dict[str, Any]:
        """Delete ``count`` templates from ``template_id`` on."""
        self.delete_char(template_id, count)
        log.info("fingerprint_deleted", extra=fields(template_id=template_id, count=count))
        return {"deleted": count, "id": template_id}

    def clear(self) -> dict[str, Any]:
        """Delete every template."""
        self.empty()
        log.info("fingerprint_library_cleared")
        return {"cleared": True}

    def count(self) -> dict[str, Any]:
        """{"count": N}: the template count in the shape of the other library commands' answers."""
        return {"count": self.template_count()}

    def info(self) -> dict[str, Any]:
        """The system parameters and the number of templates."""
        params = self.read_sys_para()
        result: dict[str, Any] = dict(params.as_dict())
        result["templates"] = self.template_count()
        return result

    def read_template(self, template_id: int) -> bytes:
        """The stored template at ``template_id`` (LoadChar, then UpChar). Citizen data."""
        self.load_char(cmd.CHAR_BUFFER_1, template_id)
        return self.up_char(cmd.CHAR_BUFFER_1)

    def write_template(self, template_id: int, template: bytes) -> None:
        """Store ``template`` at ``template_id`` (DownChar, then Store)."""
        self.down_char(cmd.CHAR_BUFFER_1, template)
        self.store(cmd.CHAR_BUFFER_1, template_id)
