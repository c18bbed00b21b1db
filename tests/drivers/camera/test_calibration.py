"""Threshold calibration: rates worked out by hand, the pairs file, and the command."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.camera.calibration import (
    Pair,
    ScoredPair,
    rates,
    read_pairs,
    suggest,
    threshold_range,
)
from drivers.camera.errors import CalibrationError
from govedge.cli import main


def scored(distance: float, same: bool) -> ScoredPair:
    return ScoredPair(Pair(Path("r"), Path("p"), same), distance)


def test_rates_by_hand() -> None:
    # same-person distances 0.40, 0.50, 0.62 and a probe without a face (inf);
    # different-person distances 0.45, 0.70, 0.80
    items = [scored(0.40, True), scored(0.50, True), scored(0.62, True),
             scored(0.45, False), scored(0.70, False), scored(0.80, False),
             scored(math.inf, True)]  # fmt: skip
    rows = {r.threshold: r for r in rates(items, [0.3, 0.5, 0.65])}
    # at 0.3: nothing accepted -> FAR 0/3, FRR 4/4
    assert (rows[0.3].false_accept_rate, rows[0.3].false_reject_rate) == (0.0, 1.0)
    # at 0.5: accepted 0.40, 0.50 (same) and 0.45 (different) -> FAR 1/3, FRR 2/4
    assert rows[0.5].false_accepts == 1 and rows[0.5].false_rejects == 2
    assert rows[0.5].false_accept_rate == pytest.approx(1 / 3)
    assert rows[0.5].false_reject_rate == 0.5
    # at 0.65: FAR 1/3 (0.45), FRR 1/4 (the probe without a face)
    assert rows[0.65].false_reject_rate == 0.25
    assert suggest(list(rows.values())).threshold == 0.65


def test_threshold_range() -> None:
    assert threshold_range(0.3, 0.4, 0.05) == [0.3, 0.35, 0.4]
    with pytest.raises(CalibrationError):
        threshold_range(0.5, 0.4, 0.1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n1,2\n", "header must have"),
        ("reference,probe,same\nx.jpg,y.jpg,maybe\n", ":2: 'same' must be"),
        ("reference,probe,same\n,y.jpg,1\n", "empty image path"),
        ("reference,probe,same\n", "no pairs"),
    ],
)
def test_bad_pairs_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text(text)
    with pytest.raises(CalibrationError, match=message):
        read_pairs(path)


def test_calibrate_command_on_real_photos(
    tmp_path: Path,
    card_gray: bytes,
    same_probes: dict[str, np.ndarray],
    other_probes: dict[str, np.ndarray],
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "card.jpg").write_bytes(card_gray)
    lines = ["reference,probe,same"]
    for name in ("frame", "cropped"):
        cv2.imwrite(str(tmp_path / f"same_{name}.png"), same_probes[name])
        cv2.imwrite(str(tmp_path / f"other_{name}.png"), other_probes[name])
        lines += [f"card.jpg,same_{name}.png,1", f"card.jpg,other_{name}.png,0"]
    cv2.imwrite(str(tmp_path / "wall.png"), np.full((480, 640, 3), 128, np.uint8))
    lines.append("card.jpg,wall.png,same")
    (tmp_path / "pairs.csv").write_text("\n".join(lines) + "\n")

    code = main(["face", "calibrate", str(tmp_path / "pairs.csv"), "--from", "0.4", "--to", "0.7",
                 "--step", "0.1"])  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == "5 pairs: 3 same person, 2 different; 1 probes without a face"
    table = {line.split()[0]: line.split()[1:] for line in out[2:6]}
    assert table["0.40"] == ["0.00%", "100.00%"]
    assert table["0.50"] == ["0.00%", "33.33%"]  # two matches, the wall rejected
    assert table["0.70"] == ["100.00%", "33.33%"]
    assert out[-1].startswith("suggested threshold 0.50")

    assert main(["face", "calibrate", str(tmp_path / "pairs.csv"), "--json"]) == 0
    assert '"suggested_threshold": ' in capsys.readouterr().out


def test_calibrate_missing_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pairs.csv").write_text("reference,probe,same\nnone.jpg,none2.jpg,1\n")
    assert main(["face", "calibrate", str(tmp_path / "pairs.csv")]) == 1
    assert "no image file at" in capsys.readouterr().err
