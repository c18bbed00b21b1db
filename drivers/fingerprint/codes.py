"""Confirmation codes of the R30x protocol: what each means and which error it raises.

The first byte of every acknowledge packet is a confirmation code. Codes 0x00..0x1B are common to
the R30x family (R305, R307, FPM10A, AS608); 0x1C..0x29 were added by later modules (R502, R503).
A code not in the table is reported as a module fault with its number.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.fingerprint.errors import (
    EnrollMismatchError,
    FingerprintStatusError,
    ImageQualityError,
    LibraryStateError,
    ModuleFaultError,
    NoFingerError,
    PacketReceiveError,
    PasswordError,
    RegisterError,
    TemplateIdError,
    TemplateReadError,
)

OK = 0x00
PACKET_RECEIVE_ERROR = 0x01
NO_FINGER = 0x02
IMAGE_FAIL = 0x03
IMAGE_MESSY = 0x06
FEATURE_FAIL = 0x07
NO_MATCH = 0x08
NOT_FOUND = 0x09
ENROLL_MISMATCH = 0x0A
BAD_LOCATION = 0x0B
TEMPLATE_READ_FAIL = 0x0C
UPLOAD_FEATURE_FAIL = 0x0D
DATA_RECEIVE_FAIL = 0x0E
UPLOAD_IMAGE_FAIL = 0x0F
DELETE_FAIL = 0x10
CLEAR_FAIL = 0x11
LOW_POWER_FAIL = 0x12
WRONG_PASSWORD = 0x13
RESET_FAIL = 0x14
INVALID_IMAGE = 0x15
UPGRADE_FAIL = 0x16
RESIDUAL_FINGER = 0x17
FLASH_ERROR = 0x18
UNDEFINED_ERROR = 0x19
INVALID_REGISTER = 0x1A
BAD_REGISTER_CONFIG = 0x1B
BAD_NOTEPAD_PAGE = 0x1C
PORT_FAIL = 0x1D
AUTO_ENROLL_FAIL = 0x1E
LIBRARY_FULL = 0x1F
WRONG_ADDRESS = 0x20
PASSWORD_REQUIRED = 0x21
TEMPLATE_NOT_EMPTY = 0x22
TEMPLATE_EMPTY = 0x23
LIBRARY_EMPTY = 0x24
BAD_ENROLL_COUNT = 0x25
MODULE_TIMEOUT = 0x26
ALREADY_ENROLLED = 0x27
FEATURES_ASSOCIATED = 0x28
SENSOR_FAIL = 0x29


@dataclass(frozen=True, slots=True)
class Confirmation:
    """One confirmation code: its number, a short name, the manual's meaning, its error."""

    code: int
    name: str
    meaning: str
    error: type[FingerprintStatusError] | None


def _c(
    code: int, name: str, meaning: str, error: type[FingerprintStatusError] | None
) -> tuple[int, Confirmation]:
    return code, Confirmation(code, name, meaning, error)


CONFIRMATIONS: dict[int, Confirmation] = dict(
    [
        _c(OK, "ok", "command executed", None),
        _c(
            PACKET_RECEIVE_ERROR,
            "packet_error",
            "error when receiving the packet",
            PacketReceiveError,
        ),
        _c(NO_FINGER, "no_finger", "no finger on the sensor", NoFingerError),
        _c(
            IMAGE_FAIL,
            "image_fail",
            "failed to capture the finger image (enroll fail)",
            ImageQualityError,
        ),
        _c(
            IMAGE_MESSY,
            "image_messy",
            "cannot generate the character file: the image is too disorderly",
            ImageQualityError,
        ),
        _c(
            FEATURE_FAIL,
            "feature_fail",
            "cannot generate the character file: too few feature points or too small an image",
            ImageQualityError,
        ),
        _c(NO_MATCH, "no_match", "the fingers do not match", None),
        _c(NOT_FOUND, "not_found", "no matching finger found in the library", None),
        _c(
            ENROLL_MISMATCH,
            "combine_fail",
            "failed to combine the character files (the captures are of different fingers)",
            EnrollMismatchError,
        ),
        _c(
            BAD_LOCATION,
            "bad_page_id",
            "the template id is beyond the finger library",
            TemplateIdError,
        ),
        _c(
            TEMPLATE_READ_FAIL,
            "template_read_fail",
            "error reading the template from the library, or the template is invalid",
            TemplateReadError,
        ),
        _c(
            UPLOAD_FEATURE_FAIL,
            "template_upload_fail",
            "error when uploading the template",
            ModuleFaultError,
        ),
        _c(
            DATA_RECEIVE_FAIL,
            "data_receive_fail",
            "the module cannot receive the following data packets",
            PacketReceiveError,
        ),
        _c(
            UPLOAD_IMAGE_FAIL,
            "image_upload_fail",
            "error when uploading the image",
            ModuleFaultError,
        ),
        _c(DELETE_FAIL, "delete_fail", "failed to delete the template", ModuleFaultError),
        _c(CLEAR_FAIL, "clear_fail", "failed to clear the finger library", ModuleFaultError),
        _c(LOW_POWER_FAIL, "low_power_fail", "cannot enter the low-power state", ModuleFaultError),
        _c(WRONG_PASSWORD, "wrong_password", "wrong handshake password", PasswordError),
        _c(RESET_FAIL, "reset_fail", "system reset failed", ModuleFaultError),
        _c(
            INVALID_IMAGE,
            "invalid_image",
            "cannot generate the image: no valid primary image in the buffer",
            ImageQualityError,
        ),
        _c(UPGRADE_FAIL, "upgrade_fail", "online upgrade failed", ModuleFaultError),
        _c(
            RESIDUAL_FINGER,
            "residual_finger",
            "residual fingerprint, or the finger moved between captures",
            ImageQualityError,
        ),
        _c(FLASH_ERROR, "flash_error", "error when writing the flash", ModuleFaultError),
        _c(UNDEFINED_ERROR, "undefined_error", "undefined error", ModuleFaultError),
        _c(INVALID_REGISTER, "invalid_register", "invalid register number", RegisterError),
        _c(
            BAD_REGISTER_CONFIG,
            "bad_register_config",
            "incorrect register configuration",
            RegisterError,
        ),
        _c(BAD_NOTEPAD_PAGE, "bad_notepad_page", "wrong notepad page number", RegisterError),
        _c(PORT_FAIL, "port_fail", "failed to operate the communication port", ModuleFaultError),
        _c(AUTO_ENROLL_FAIL, "auto_enroll_fail", "automatic enrollment failed", ImageQualityError),
        _c(LIBRARY_FULL, "library_full", "the finger library is full", LibraryStateError),
        _c(WRONG_ADDRESS, "wrong_address", "the module address is wrong", ModuleFaultError),
        _c(
            PASSWORD_REQUIRED,
            "password_required",
            "the password must be verified first",
            PasswordError,
        ),
        _c(
            TEMPLATE_NOT_EMPTY,
            "template_not_empty",
            "the template slot is not empty",
            LibraryStateError,
        ),
        _c(TEMPLATE_EMPTY, "template_empty", "the template slot is empty", TemplateReadError),
        _c(LIBRARY_EMPTY, "library_empty", "the finger library is empty", LibraryStateError),
        _c(
            BAD_ENROLL_COUNT,
            "bad_enroll_count",
            "wrong number of enrollment captures",
            RegisterError,
        ),
        _c(
            MODULE_TIMEOUT,
            "module_timeout",
            "the module timed out waiting for a finger",
            NoFingerError,
        ),
        _c(
            ALREADY_ENROLLED,
            "already_enrolled",
            "this finger is enrolled already",
            LibraryStateError,
        ),
        _c(
            FEATURES_ASSOCIATED,
            "features_associated",
            "the features are associated",
            LibraryStateError,
        ),
        _c(
            SENSOR_FAIL,
            "sensor_fail",
            "sensor initialisation failed (hardware error)",
            ModuleFaultError,
        ),
    ]
)


def describe(code: int) -> Confirmation:
    """The table entry for ``code``; an unknown code is a module fault with its number."""
    known = CONFIRMATIONS.get(code)
    if known is not None:
        return known
    return Confirmation(
        code, "unknown", f"unknown confirmation code 0x{code:02X}", ModuleFaultError
    )


def error_for(code: int, command: str) -> FingerprintStatusError:
    """The exception to raise for error ``code`` answered to ``command``.

    Codes that are results rather than errors (no match, not found) become a module fault
    when they answer a command that cannot produce them.
    """
    entry = describe(code)
    error = entry.error or ModuleFaultError
    return error(code, entry.meaning, command)
