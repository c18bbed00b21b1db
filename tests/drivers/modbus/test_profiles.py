"""Profiles as data: every shipped profile loads; bad profiles name the file and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drivers.modbus.errors import ModbusConfigError
from drivers.modbus.polled import create
from drivers.modbus.profiles import (
    Quantity,
    available_profiles,
    load_profile,
    parse_profile,
)
from govedge.errors import ConfigError


def test_shipped_profiles() -> None:
    assert set(available_profiles()) >= {"sht20", "air_quality", "noise", "water_level", "smoke"}
    air = load_profile("air_quality")
    names = {q.name for q in air.quantities}
    assert names == {"so2", "no2", "co", "o3", "pm2_5", "pm10", "temperature", "humidity"}
    assert len(air.blocks()) == 1  # holding registers 0..7 in one request
    assert load_profile("water_level").quantity("water_level_m").unit == "m"
    smoke = load_profile("smoke")
    assert not smoke.quantity("smoke_alarm").stuck_check


def test_sht20_profile_is_input_registers_1_and_2() -> None:
    sht = load_profile("sht20")
    t, rh = sht.quantity("temperature"), sht.quantity("humidity")
    assert (t.register, t.function, t.scale, t.signed) == (1, 4, 0.1, True)
    assert (rh.register, rh.function) == (2, 4)


def test_blocks_split_at_gaps_and_functions() -> None:
    profile = parse_profile(
        {
            "name": "mixed",
            "quantities": {
                "a": {"register": 0, "function": 3},
                "b": {"register": 1, "function": 3, "words": 2},
                "c": {"register": 5, "function": 3},
                "d": {"register": 0, "function": 4},
            },
        }
    )
    spans = [(b.function, b.address, b.count) for b in profile.blocks()]
    assert spans == [(3, 0, 3), (3, 5, 1), (4, 0, 1)]


def test_32_bit_low_word_first_and_encode_round_trip() -> None:
    q = Quantity("x", 0, words=2, word_order="low_first", signed=True, scale=0.01)
    assert q.encode(-12.34) == [0xFB2E, 0xFFFF]  # -1234 = 0xFFFFFB2E
    assert q.decode([0xFB2E, 0xFFFF]) == -12.34


def test_encode_saturates() -> None:
    q = Quantity("t", 1, scale=0.1, signed=True)
    assert q.encode(9999.0) == [0x7FFF]
    assert q.decode(q.encode(-9999.0)) == -3276.8


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "JSON object"),
        ({"quantities": {"a": {"register": 0}}}, "'name'"),
        ({"name": "x", "quantities": {}}, "'quantities'"),
        ({"name": "x", "quantities": {"a": {"register": -1}}}, "quantities.a.register"),
        ({"name": "x", "quantities": {"a": {"register": 0, "function": 6}}}, "a.function"),
        ({"name": "x", "quantities": {"a": {"register": 0, "words": 3}}}, "a.words"),
        ({"name": "x", "quantities": {"a": {"register": 0, "scale": 0}}}, "a.scale"),
        ({"name": "x", "quantities": {"a": {"register": 0, "colour": 1}}}, "'colour'"),
        (
            {"name": "x", "quantities": {"a": {"register": 0, "words": 2}, "b": {"register": 1}}},
            "share register 1",
        ),
    ],
)
def test_bad_profiles(doc: object, message: str) -> None:
    with pytest.raises(ModbusConfigError, match=message):
        parse_profile(doc, source="p.json")


def test_profile_from_a_file_and_unknown_names(tmp_path: Path) -> None:
    path = tmp_path / "custom.json"
    path.write_text(json.dumps({"name": "custom", "quantities": {"v": {"register": 3}}}))
    assert load_profile(str(path)).name == "custom"
    with pytest.raises(ModbusConfigError, match="unknown Modbus profile 'nope'"):
        load_profile("nope")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ConfigError, match="cannot read profile"):
        load_profile(str(bad))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"profile": "sht20", "slave": 1}, "unknown field `slave`"),
        ({}, "missing required field `profile`"),
        ({"profile": "sht20", "unit": 0}, "options.unit"),
        ({"profile": "sht20", "unit": 1.5}, "options.unit"),
        ({"profile": "sht20", "timeout": -1}, "options.timeout"),
        ({"profile": "sht20", "stuck_after_s": "x"}, "options.stuck_after_s"),
    ],
)
def test_bad_options_name_the_key(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        create("/dev/null", options)
