"""Release bundles: build, verify, and refusal of a changed byte, a wrong key, an extra file."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from govedge.cli import main
from provisioning.errors import ReleaseBundleError
from provisioning.releases import (
    build_bundle,
    release_signer,
    release_verifier,
    unpack_bundle,
    write_release_key,
)


def _source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "bin").mkdir(parents=True)
    (src / "bin" / "govedge-agent").write_text("#!/bin/sh\nexit 0\n")
    (src / "bin" / "govedge-agent").chmod(0o755)
    (src / "lib").mkdir()
    (src / "lib" / "app.py").write_text("print('kiosk')\n")
    return src


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return write_release_key(tmp_path / "keys")


def test_build_then_verify_and_unpack(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    out = tmp_path / "r.tar"
    src = _source(tmp_path)
    (src / "bin" / "govedge-kiosk").write_text("#!/bin/sh\nexit 0\n")
    (src / "bin" / "govedge-kiosk").chmod(0o755)
    rel = build_bundle(src, "1.0", out, release_signer(keys[0]), ["agent", "kiosk"])
    assert rel.version == "1.0" and set(rel.files) == {
        "bin/govedge-agent",
        "bin/govedge-kiosk",
        "lib/app.py",
    }
    dest = tmp_path / "slot"
    dest.mkdir()
    again = unpack_bundle(out, release_verifier(keys[1]), dest)
    assert again.apps == ("agent", "kiosk")
    assert (dest / "lib" / "app.py").read_text() == "print('kiosk')\n"
    assert (dest / "bin" / "govedge-agent").stat().st_mode & 0o100


def test_an_app_without_its_entry_point_is_not_built(
    tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    with pytest.raises(ReleaseBundleError, match="needs an executable bin/govedge-kiosk"):
        build_bundle(
            _source(tmp_path), "1.0", tmp_path / "r.tar", release_signer(keys[0]), ["kiosk"]
        )
    (tmp_path / "src" / "bin" / "govedge-agent").chmod(0o644)
    with pytest.raises(ReleaseBundleError, match="needs an executable bin/govedge-agent"):
        build_bundle(tmp_path / "src", "1.0", tmp_path / "r.tar", release_signer(keys[0]))


def test_one_changed_byte_is_refused(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    out = tmp_path / "r.tar"
    build_bundle(_source(tmp_path), "1.0", out, release_signer(keys[0]))
    data = bytearray(out.read_bytes())
    at = data.index(b"print('kiosk')")
    data[at] ^= 0x01
    out.write_bytes(bytes(data))
    with pytest.raises(ReleaseBundleError, match="does not match its signed hash"):
        unpack_bundle(out, release_verifier(keys[1]))


def test_another_key_is_refused(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    other = write_release_key(tmp_path / "other")
    out = tmp_path / "r.tar"
    build_bundle(_source(tmp_path), "1.0", out, release_signer(other[0]))
    with pytest.raises(ReleaseBundleError, match="unknown key"):
        unpack_bundle(out, release_verifier(keys[1]))


def test_a_file_outside_the_manifest_is_refused(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    out = tmp_path / "r.tar"
    build_bundle(_source(tmp_path), "1.0", out, release_signer(keys[0]))
    with tarfile.open(out, "a") as tar:
        info = tarfile.TarInfo("files/bin/extra")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(ReleaseBundleError, match="not in the signed manifest"):
        unpack_bundle(out, release_verifier(keys[1]))


def test_release_cli_build_and_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["release", "keygen", "--out", str(tmp_path / "k")]) == 0
    key, pub = tmp_path / "k" / "release.key", tmp_path / "k" / "release.pub"
    out = tmp_path / "r.tar"
    src = str(_source(tmp_path))
    assert (
        main(["release", "build", src, "--version", "2.1", "--key", str(key), "--out", str(out)])
        == 0
    )
    assert main(["release", "verify", str(out), "--public-key", str(pub)]) == 0
    assert "valid release 2.1" in capsys.readouterr().out
    out.write_bytes(out.read_bytes().replace(b"exit 0", b"exit 1"))
    assert main(["release", "verify", str(out), "--public-key", str(pub)]) == 1
    assert "does not match" in capsys.readouterr().err
