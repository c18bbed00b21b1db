"""The SAM status byte (SW3) of every answer: what it means and what the driver makes of it.

Two codes are successes (0x90, and 0x9F for "find card"), 0x91 is a success with no content
(e.g. no extra address on the card), every other code raises a specific exception whose
``health`` says whether the hardware or the citizen is at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from drivers.idcard.errors import (
    CardAuthenticationError,
    CardReadError,
    CardSelectError,
    IdCardStatusError,
    NoCardError,
    SamCommandError,
    SamFaultError,
    UnknownCardError,
    UnknownStatusError,
)
from govedge.health import HealthState


class Status(IntEnum):
    """SW3 values defined for SAM_V modules."""

    OK = 0x90
    CARD_FOUND = 0x9F
    NO_CONTENT = 0x91
    BAD_CHECKSUM = 0x10
    BAD_LENGTH = 0x11
    BAD_COMMAND = 0x21
    UNAUTHORISED_OPERATION = 0x23
    UNRECOGNISED_ERROR = 0x24
    CARD_AUTHENTICATES_SAM_FAILED = 0x31
    SAM_AUTHENTICATES_CARD_FAILED = 0x32
    VERIFICATION_FAILED = 0x33
    UNKNOWN_CARD_TYPE = 0x40
    READ_FAILED = 0x41
    RANDOM_FAILED = 0x47
    SELF_TEST_FAILED = 0x60
    SAM_NOT_AUTHORISED = 0x66
    FIND_FAILED = 0x80
    SELECT_FAILED = 0x81


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """One status code: meaning (English and the specification's Chinese), outcome, error."""

    code: int
    meaning: str
    meaning_zh: str
    outcome: str  # "ok", "empty" or "error"
    error: type[IdCardStatusError] | None
    health: HealthState


def _info(
    code: Status, meaning: str, zh: str, error: type[IdCardStatusError] | None = None
) -> StatusInfo:
    if error is None:
        outcome = "empty" if code == Status.NO_CONTENT else "ok"
        return StatusInfo(int(code), meaning, zh, outcome, None, HealthState.ONLINE)
    return StatusInfo(int(code), meaning, zh, "error", error, error.health)


STATUS_TABLE: dict[int, StatusInfo] = {
    info.code: info
    for info in (
        _info(Status.OK, "operation succeeded", "操作成功"),
        _info(Status.CARD_FOUND, "card found", "寻找居民身份证成功"),
        _info(Status.NO_CONTENT, "the card holds nothing for this item", "居民身份证中此项无内容"),
        _info(
            Status.BAD_CHECKSUM,
            "the SAM received a frame with a bad checksum",
            "接收业务终端数据的校验和错",
            SamCommandError,
        ),
        _info(
            Status.BAD_LENGTH,
            "the SAM received a frame with a bad length",
            "接收业务终端数据的长度错",
            SamCommandError,
        ),
        _info(
            Status.BAD_COMMAND,
            "the SAM received an invalid command or parameter",
            "接收业务终端的命令错误",
            SamCommandError,
        ),
        _info(
            Status.UNAUTHORISED_OPERATION,
            "operation not permitted",
            "越权操作",
            SamCommandError,
        ),
        _info(
            Status.UNRECOGNISED_ERROR,
            "unrecognised error in the SAM",
            "无法识别的错误",
            SamCommandError,
        ),
        _info(
            Status.CARD_AUTHENTICATES_SAM_FAILED,
            "the card failed to authenticate the SAM",
            "居民身份证认证SAM_V失败",
            CardAuthenticationError,
        ),
        _info(
            Status.SAM_AUTHENTICATES_CARD_FAILED,
            "the SAM failed to authenticate the card",
            "SAM_V认证居民身份证失败",
            CardAuthenticationError,
        ),
        _info(
            Status.VERIFICATION_FAILED,
            "card information verification failed",
            "信息验证错误",
            CardAuthenticationError,
        ),
        _info(
            Status.UNKNOWN_CARD_TYPE,
            "unrecognised card type",
            "无法识别的居民身份证类型",
            UnknownCardError,
        ),
        _info(
            Status.READ_FAILED,
            "reading the card failed (card removed or damaged)",
            "读居民身份证操作失败",
            CardReadError,
        ),
        _info(
            Status.RANDOM_FAILED,
            "the card failed to give a random number",
            "取随机数失败",
            CardReadError,
        ),
        _info(
            Status.SELF_TEST_FAILED,
            "the SAM failed its self-test and accepts no command",
            "SAM_V自检失败,不能接收命令",
            SamFaultError,
        ),
        _info(
            Status.SAM_NOT_AUTHORISED,
            "the SAM is not authorised for use",
            "SAM_V没经过授权,无法使用",
            SamFaultError,
        ),
        _info(Status.FIND_FAILED, "no card on the reader", "寻找居民身份证失败", NoCardError),
        _info(
            Status.SELECT_FAILED,
            "the card could not be selected",
            "选取居民身份证失败",
            CardSelectError,
        ),
    )
}


def describe(code: int) -> str:
    """``0x80`` -> ``"0x80 no card on the reader (寻找居民身份证失败)"``."""
    info = STATUS_TABLE.get(code)
    if info is None:
        return f"0x{code:02X} undefined status"
    return f"0x{code:02X} {info.meaning} ({info.meaning_zh})"


def status_error(code: int, action: str) -> IdCardStatusError:
    """The exception for an error status ``code`` met while doing ``action``."""
    info = STATUS_TABLE.get(code)
    if info is None or info.error is None:
        return UnknownStatusError(f"{action}: SAM answered {describe(code)}", code)
    return info.error(f"{action}: {describe(code)}", code)


def check(code: int, action: str, success: int = Status.OK) -> bool:
    """Return True for ``success``, False for "no content"; raise for anything else.

    ``success`` is the code the command is documented to succeed with: 0x9F for find card,
    0x90 for every other command. The other success code in the wrong place is an error too.
    """
    if code == success:
        return True
    if code == Status.NO_CONTENT:
        return False
    if code in (Status.OK, Status.CARD_FOUND):
        return _unexpected(code, action)
    raise status_error(code, action)


def _unexpected(code: int, action: str) -> bool:
    raise UnknownStatusError(f"{action}: unexpected status {describe(code)} for this command", code)
