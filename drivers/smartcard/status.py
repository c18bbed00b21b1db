"""ISO/IEC 7816-4 status words: what each means and which error it raises.

9000 is success. 61xx (more data, xx bytes waiting) and 6Cxx (wrong Le, xx is the right one) are
handled by the exchange loop (``drivers.smartcard.exchange``) before a caller sees them.
"""

from __future__ import annotations

from drivers.smartcard.errors import (
    AuthenticationBlockedError,
    CardFileNotFoundError,
    CardMemoryError,
    CardNoDiagnosisError,
    ClaNotSupportedError,
    CommandNotAllowedError,
    ConditionsNotSatisfiedError,
    InsNotSupportedError,
    RecordNotFoundError,
    SecurityStatusError,
    StatusWordError,
    WrongLengthError,
    WrongParametersError,
)

SW_OK = 0x9000

# Exact status words: meaning and error class.
_EXACT: dict[int, tuple[str, type[StatusWordError]]] = {
    0x6281: ("part of returned data may be corrupted", CardMemoryError),
    0x6282: ("end of file or record reached before Le bytes", WrongLengthError),
    0x6283: ("selected file deactivated", ConditionsNotSatisfiedError),
    0x6581: ("memory failure", CardMemoryError),
    0x6700: ("wrong length (Lc or Le)", WrongLengthError),
    0x6881: ("logical channel not supported", ClaNotSupportedError),
    0x6882: ("secure messaging not supported", ClaNotSupportedError),
    0x6981: ("command incompatible with file structure", CommandNotAllowedError),
    0x6982: ("security status not satisfied", SecurityStatusError),
    0x6983: ("authentication method blocked", AuthenticationBlockedError),
    0x6984: ("reference data not usable", ConditionsNotSatisfiedError),
    0x6985: ("conditions of use not satisfied", ConditionsNotSatisfiedError),
    0x6986: ("command not allowed (no current EF)", CommandNotAllowedError),
    0x6A80: ("incorrect parameters in the data field", WrongParametersError),
    0x6A81: ("function not supported", WrongParametersError),
    0x6A82: ("file or application not found", CardFileNotFoundError),
    0x6A83: ("record not found", RecordNotFoundError),
    0x6A84: ("not enough memory space in the file", CardMemoryError),
    0x6A86: ("incorrect parameters P1-P2", WrongParametersError),
    0x6A88: ("referenced data not found", RecordNotFoundError),
    0x6B00: ("wrong parameters P1-P2 (offset outside the EF)", WrongParametersError),
    0x6D00: ("instruction code not supported", InsNotSupportedError),
    0x6E00: ("class not supported", ClaNotSupportedError),
    0x6F00: ("no precise diagnosis", CardNoDiagnosisError),
}

# Status words by SW1 alone, when SW2 carries a value or is not listed above.
_BY_SW1: dict[int, tuple[str, type[StatusWordError]]] = {
    0x61: ("more response data waiting", StatusWordError),
    0x62: ("warning: state of non-volatile memory unchanged", StatusWordError),
    0x63: ("warning: state of non-volatile memory changed", StatusWordError),
    0x64: ("execution error: state of non-volatile memory unchanged", CardMemoryError),
    0x65: ("execution error: state of non-volatile memory changed", CardMemoryError),
    0x67: ("wrong length", WrongLengthError),
    0x68: ("functions in CLA not supported", ClaNotSupportedError),
    0x69: ("command not allowed", CommandNotAllowedError),
    0x6A: ("wrong parameters P1-P2", WrongParametersError),
    0x6B: ("wrong parameters P1-P2", WrongParametersError),
    0x6C: ("wrong Le field", WrongLengthError),
    0x6D: ("instruction code not supported", InsNotSupportedError),
    0x6E: ("class not supported", ClaNotSupportedError),
    0x6F: ("no precise diagnosis", CardNoDiagnosisError),
}


def describe(sw: int) -> str:
    """A short English meaning of a status word."""
    if sw == SW_OK:
        return "normal processing"
    sw1, sw2 = sw >> 8, sw & 0xFF
    if sw1 == 0x63 and sw2 & 0xF0 == 0xC0:
        return f"verification failed, {sw2 & 0x0F} tries left"
    if sw1 == 0x61:
        return f"{sw2 or 256} more bytes of response data waiting"
    if sw1 == 0x6C:
        return f"wrong Le field; the right one is {sw2 or 256}"
    if sw in _EXACT:
        return _EXACT[sw][0]
    if sw1 in _BY_SW1:
        return _BY_SW1[sw1][0]
    return "unknown status word"


def error_for(sw: int) -> StatusWordError:
    """The exception a status word other than 9000 maps to."""
    _, cls = _EXACT.get(sw) or _BY_SW1.get(sw >> 8, ("", CardNoDiagnosisError))
    return cls(describe(sw), sw)


def raise_for_status(sw: int) -> None:
    """Return on 9000, raise the mapped StatusWordError on anything else."""
    if sw != SW_OK:
        raise error_for(sw)
