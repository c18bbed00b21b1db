"""The NMEA codec on random bytes: only NmeaError, never a crash; valid sentences survive."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.gnss.errors import NmeaError
from drivers.gnss.nmea import GnssFix, SentenceSplitter, apply, parse_sentence

GGA = b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n"


@settings(deadline=None, max_examples=300)
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_nmea_errors(data: bytes) -> None:
    splitter = SentenceSplitter()
    fix = GnssFix()
    for line in splitter.feed(data):
        try:
            apply(fix, parse_sentence(line))
        except NmeaError:
            pass


@settings(deadline=None, max_examples=200)
@given(st.text(alphabet="$GPRMCGA,*0123456789.NSEWAV-\r\n", max_size=200))
def test_nmea_like_text_only_raises_nmea_errors(text: str) -> None:
    fix = GnssFix()
    for line in SentenceSplitter().feed(text.encode()):
        try:
            apply(fix, parse_sentence(line))
        except NmeaError:
            pass


@settings(deadline=None, max_examples=200)
@given(st.binary(max_size=120).filter(lambda b: b"\n" not in b and b"$" not in b))
def test_a_valid_sentence_after_noise_is_not_lost(noise: bytes) -> None:
    lines = SentenceSplitter().feed(noise + GGA)
    assert lines[-1] == GGA.rstrip(b"\r\n")
