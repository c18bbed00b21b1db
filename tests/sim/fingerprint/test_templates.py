"""Synthetic templates are deterministic, distinct per finger and marked as synthetic."""

from __future__ import annotations

import pytest

from sim.fingerprint.templates import MARKER, match_score, preset_finger, synthetic_template


def test_deterministic_and_distinct() -> None:
    assert synthetic_template("alice") == synthetic_template("alice")
    assert synthetic_template("alice") != synthetic_template("bob")
    assert synthetic_template("alice").startswith(MARKER)
    assert len(synthetic_template("alice")) == 512
    assert len(synthetic_template("alice", 768)) == 768
    assert synthetic_template("alice", 768)[:512] == synthetic_template("alice")


def test_score_and_names() -> None:
    assert 50 <= match_score(synthetic_template("x")) < 250
    assert preset_finger(3) == "finger-3"
    with pytest.raises(ValueError):
        synthetic_template("x", 4)
