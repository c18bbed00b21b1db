"""``govedge face ...`` and ``govedge device camera ...`` through govedge.cli.main and as a
real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from govedge.cli import main

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def images(
    tmp_path_factory: pytest.TempPathFactory,
    card_gray: bytes,
    same_probes: dict[str, np.ndarray],
    other_probes: dict[str, np.ndarray],
) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("faces")
    paths = {"card": d / "card.jpg", "same": d / "same.png", "other": d / "other.png"}
    paths["card"].write_bytes(card_gray)
    cv2.imwrite(str(paths["same"]), same_probes["frame"])
    cv2.imwrite(str(paths["other"]), other_probes["frame"])
    return paths


def test_verify_json_match(images: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["face", "verify", "--reference", str(images["card"]), "--probe", str(images["same"]),
         "--json"]
    )  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["match"] is True and data["distance"] < data["threshold"]
    assert {"detect", "encode", "compare", "total"} <= set(data["timings_ms"])


def test_verify_text_no_match(images: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["face", "verify", "--reference", str(images["card"]), "--probe", str(images["other"])]
    )
    out = capsys.readouterr().out
    assert code == 4
    assert out.startswith("NO MATCH: distance 0.")
    assert "distance_above_threshold" in out and "timings:" in out


def test_verify_threshold_option(
    images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["face", "verify", "--reference", str(images["card"]), "--probe", str(images["other"])]
    assert main([*argv, "--threshold", "0.95", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["threshold"] == 0.95
    assert main([*argv, "--threshold", "7"]) == 1
    assert "--threshold" in capsys.readouterr().err


@pytest.mark.parametrize("which", ["reference", "probe"])
def test_verify_missing_file_is_one_line(
    images: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], which: str
) -> None:
    args = {"reference": str(images["card"]), "probe": str(images["same"])}
    args[which] = str(tmp_path / "absent.jpg")
    code = main(["face", "verify", "--reference", args["reference"], "--probe", args["probe"]])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("govedge: error: no ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_verify_undecodable_image(
    images: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\xff\xd8 not really a jpeg")
    code = main(["face", "verify", "--reference", str(junk), "--probe", str(images["same"])])
    assert code == 1
    assert "cannot decode image" in capsys.readouterr().err


def test_liveness_on_a_scripted_camera(
    scripted: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    url = scripted("face:4,blink:2,face:3,turn_left:3,face:3")
    code = main(["face", "liveness", "--camera", url, "--challenges", "blink,turn_left", "--json"])
    captured = capsys.readouterr()
    assert code == 0
    assert json.loads(captured.out)["passed"] is True
    assert "please blink" in captured.err and "turn your head to your left" in captured.err


def test_liveness_still_photo_fails(
    scripted: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    url = scripted("photo:35")
    code = main(["face", "liveness", "--camera", url, "--seed", "3", "--timeout", "2"])
    assert code == 4
    assert capsys.readouterr().out.startswith("NOT LIVE (timeout)")


def test_liveness_bad_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["face", "liveness", "--camera", str(tmp_path), "--challenges", "wink"]) == 1
    assert "unknown challenge" in capsys.readouterr().err
    assert main(["face", "liveness", "--camera", str(tmp_path / "none.avi")]) == 1
    assert "no video file or image folder" in capsys.readouterr().err


def test_snapshot_from_a_folder(
    scripted: Callable[[str], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "snap.jpg"
    code = main(
        ["device", "camera", "snapshot", scripted("no_face:2,face:2"), str(out), "--skip", "2"]
    )
    assert code == 0
    image = cv2.imread(str(out))
    assert image.shape == (480, 640, 3)
    assert "saved 640x480 frame" in capsys.readouterr().out


def test_snapshot_without_camera(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["device", "camera", "snapshot", "63", str(tmp_path / "x.jpg")]) == 1
    assert capsys.readouterr().err == "govedge: error: no camera at /dev/video63\n"


def test_health_reports_a_frozen_camera(
    scripted: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["device", "camera", "health", scripted("frozen:40"), "--seconds", "30"])
    assert code == 4
    assert capsys.readouterr().out.startswith("hardware_error: frozen image")


def test_verify_as_a_subprocess(images: dict[str, Path]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "govedge.cli", "face", "verify", "--reference",
         str(images["card"]), "--probe", str(images["same"]), "--json"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["match"] is True
