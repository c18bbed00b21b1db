"""GB 11643 check digits (ISO 7064 MOD 11-2) and the GB 3304 nation table."""

from __future__ import annotations

import datetime as dt

import pytest

from drivers.idcard.idnumber import check_digit, is_valid, validate
from drivers.idcard.nations import NATIONS, nation_code, nation_name


def test_textbook_example() -> None:
    # The standard's worked example: 11010519491231002X.
    # Sum of digit x weight: 1*7+1*9+0*10+1*5+0*8+5*4+1*2+9*1+4*6+9*3+1*7+2*9+3*10+1*5+0*8+0*4+2*2
    # = 167; 167 mod 11 = 2 -> "X".
    assert check_digit("11010519491231002") == "X"
    assert is_valid("11010519491231002X")
    assert is_valid("11010519491231002x")


@pytest.mark.parametrize(
    ("number", "why"),
    [
        # Computed by hand with the weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2:
        # 440524188001010014: sum 4*7+4*9+0+5*5+2*8+4*4+1*2+8*1+8*6+0+0+1*9+0+1*5+0+0+1*2 = 195,
        # 195 mod 11 = 8 -> "4".
        ("440524188001010014", "sum 195"),
        # 110101199003071233: sum 1*7+1*9+0+1*5+0+1*4+1*2+9+9*6+0+0+3*9+0+7*5+1*8+2*4+3*2 = 174,
        # 174 mod 11 = 9 -> "3".
        ("110101199003071233", "sum 174"),
    ],
)
def test_hand_computed_numbers(number: str, why: str) -> None:
    assert check_digit(number[:17]) == number[17], why
    assert validate(number).valid


def test_every_check_character_is_reachable() -> None:
    seen = {check_digit(f"1101051990010100{i}") for i in range(10)}
    seen |= {check_digit(f"110105199001010{i}0") for i in range(10)}
    assert seen == set("0123456789X")


def test_validation_reasons() -> None:
    assert "length" in validate("1101051949123100").reason
    assert "characters" in validate("11010519491231002Y").reason
    assert "birth date" in validate("110105194913310021").reason
    bad = validate("110105194912310021")
    assert not bad.valid
    assert "check digit 1 does not match X" in bad.reason
    good = validate("11010519491231002X")
    assert good.birth_date == dt.date(1949, 12, 31)
    assert good.sex_code == 2  # sequence 002: even, female


def test_check_digit_needs_17_digits() -> None:
    with pytest.raises(ValueError):
        check_digit("123")
    with pytest.raises(ValueError):
        check_digit("1101051949123100A")


def test_nation_table() -> None:
    assert len(NATIONS) == 56
    assert list(NATIONS) == [f"{i:02d}" for i in range(1, 57)]
    assert nation_name("01") == "汉"
    assert nation_name("03") == "回"
    assert nation_name("56") == "基诺"
    assert nation_name("97") == "其他"
    assert nation_name("77") == "77"  # unknown codes are kept
    assert nation_code("蒙古族") == "02"
    assert nation_code("维吾尔") == "05"
    assert nation_code("火星") is None
