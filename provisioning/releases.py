"""Signed release bundles of the agent and the kiosk apps.

A release bundle is one uncompressed tar file::

    release.json        the signed manifest (provisioning.bundles' govedge-bundle/1 form)
    files/<path>        every file of the release, byte for byte

The manifest's payload is ``{"kind": "govedge-release", "version": "1.4.0", "apps": [...],
"files": {"<path>": {"sha256": "<hex>", "size": n, "mode": 0o755}}}``. It is signed with the
*release* key, an Ed25519 key kept apart from the config-bundle key: a leaked config key can
change a device's settings but never its code. Verification checks the signature first, then
every file against its hash and size, and refuses a file the manifest does not list, a listed
file that is missing, and any path that would leave the release directory.

Signing and verifying reuse :mod:`provisioning.bundles` (canonical JSON, key ids, Ed25519).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from provisioning.bundles import (
    BundleSigner,
    BundleVerifier,
    load_public_key,
    load_signing_key,
)
from provisioning.errors import BundleSignatureError, ReleaseBundleError
from provisioning.keys import generate_key, key_pem, public_key_pem, write_file

KIND = "govedge-release"
MANIFEST = "release.json"
FILES = "files/"
CHUNK = 1 << 16
RELEASE_KEY = "release.key"
RELEASE_PUB = "release.pub"
APP_ENTRIES = {"agent": "bin/govedge-agent", "kiosk": "bin/govedge-kiosk"}
"""What the launcher (agent) and the kiosk unit start in the active slot."""


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of a release: its hash and size."""

    sha256: str
    size: int
    mode: int


@dataclass(frozen=True, slots=True)
class Release:
    """A verified release manifest."""

    version: str
    apps: tuple[str, ...]
    files: dict[str, FileEntry]
    key_id: str
    signed: dict[str, Any]  # the signed manifest as it travels (release.json)

    @property
    def size(self) -> int:
        """The release's total unpacked size in bytes (the sum of its files')."""
        return sum(f.size for f in self.files.values())


def write_release_key(directory: str | Path, passphrase: bytes | None = None) -> tuple[Path, Path]:
    """A new Ed25519 release key (``release.key``, 0600) and its public half (``release.pub``)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    key_path, pub_path = out / RELEASE_KEY, out / RELEASE_PUB
    if key_path.exists():
        raise ReleaseBundleError(f"{key_path} exists: a release key is never overwritten")
    key = generate_key("ed25519")
    write_file(key_path, key_pem(key, passphrase), 0o600)
    write_file(pub_path, public_key_pem(key), 0o644)
    return key_path, pub_path


def safe_path(name: str) -> str:
    """A release-relative POSIX path, or ReleaseBundleError if it could escape."""
    p = PurePosixPath(name)
    if not name or p.is_absolute() or any(part in ("", ".", "..") for part in p.parts):
        raise ReleaseBundleError(f"release path {name!r} is not a plain relative path")
    return str(p)


def _hash_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def build_manifest(source: str | Path, version: str, apps: Iterable[str]) -> dict[str, Any]:
    """The unsigned manifest of every regular file below ``source``; each app's entry point
    must be there and executable."""
    apps = sorted(set(apps))
    root = Path(source)
    if not root.is_dir():
        raise ReleaseBundleError(f"{root} is not a directory")
    if not version or "/" in version or version.startswith("."):
        raise ReleaseBundleError(f"release version {version!r} is not a plain name")
    files: dict[str, Any] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            if path.is_symlink():
                raise ReleaseBundleError(f"{path}: symlinks are not allowed in a release")
            continue
        rel = safe_path(path.relative_to(root).as_posix())
        digest, size = _hash_file(path)
        files[rel] = {
            "sha256": digest,
            "size": size,
            "mode": 0o755 if os.access(path, os.X_OK) else 0o644,
        }
    if not files:
        raise ReleaseBundleError(f"{root} holds no files")
    for app in apps:
        entry = APP_ENTRIES.get(app)
        if entry is None:
            raise ReleaseBundleError(f"unknown app {app!r}; one of {', '.join(APP_ENTRIES)}")
        if entry not in files or not files[entry]["mode"] & 0o100:
            raise ReleaseBundleError(f"app {app!r} needs an executable {entry} in {root}")
    return {"kind": KIND, "version": version, "apps": sorted(set(apps)), "files": files}


def build_bundle(
    source: str | Path,
    version: str,
    out: str | Path,
    signer: BundleSigner,
    apps: Iterable[str] = ("agent",),
) -> Release:
    """Write the signed bundle of ``source`` to ``out``; return its manifest."""
    manifest = build_manifest(source, version, apps)
    signed = signer.sign(manifest)
    data = json.dumps(signed, indent=2, sort_keys=True).encode("utf-8")
    tmp = Path(f"{out}.tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
        for rel, entry in manifest["files"].items():
            info = tarfile.TarInfo(FILES + rel)
            info.size, info.mode = entry["size"], entry["mode"]
            with (Path(source) / rel).open("rb") as f:
                tar.addfile(info, f)
    os.replace(tmp, out)
    return parse_manifest(signed, BundleVerifier(signer.public_key()))


def parse_manifest(signed: Any, verifier: BundleVerifier) -> Release:
    """Check the manifest's signature and shape; return it (the files are not checked here)."""
    try:
        payload = verifier.verify(signed)
    except BundleSignatureError as exc:
        raise ReleaseBundleError(f"release manifest refused: {exc}") from None
    if payload.get("kind") != KIND:
        raise ReleaseBundleError(f"signed bundle is not a release (kind {payload.get('kind')!r})")
    version, files, apps = payload.get("version"), payload.get("files"), payload.get("apps", [])
    if not isinstance(version, str) or not version or not isinstance(files, dict) or not files:
        raise ReleaseBundleError("release manifest lacks its version or its files")
    entries: dict[str, FileEntry] = {}
    for name, e in files.items():
        if not isinstance(e, dict) or not isinstance(e.get("sha256"), str):
            raise ReleaseBundleError(f"release manifest entry {name!r} is malformed")
        entries[safe_path(name)] = FileEntry(e["sha256"], int(e["size"]), int(e.get("mode", 0o644)))
    signed_dict = signed if isinstance(signed, dict) else json.loads(signed)
    return Release(version, tuple(apps), entries, str(signed_dict["key_id"]), signed_dict)


def read_manifest(bundle: str | Path, verifier: BundleVerifier) -> Release:
    """The signed manifest of a bundle file (signature checked, files not)."""
    try:
        with tarfile.open(bundle, "r:") as tar:
            member = tar.next()
            if member is None or member.name != MANIFEST or not member.isfile():
                raise ReleaseBundleError(f"{bundle}: {MANIFEST} is not the first member")
            f = tar.extractfile(member)
            assert f is not None  # noqa: S101 - narrowing: a regular file member always has a file object
            return parse_manifest(f.read(), verifier)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ReleaseBundleError(f"{bundle}: not a readable release bundle ({exc})") from None


def unpack_bundle(
    bundle: str | Path,
    verifier: BundleVerifier,
    dest: str | Path | None = None,
    expect_version: str | None = None,
) -> Release:
    """Verify a bundle completely: signature, then every file against the manifest. With
    ``dest``, the files are also written there (fsynced); a caller must treat ``dest`` as
    garbage unless this returns."""
    release = read_manifest(bundle, verifier)
    if expect_version is not None and release.version != expect_version:
        raise ReleaseBundleError(
            f"bundle holds release {release.version!r}, not the expected {expect_version!r}"
        )
    seen: set[str] = set()
    out = Path(dest) if dest is not None else None
    try:
        with tarfile.open(bundle, "r:") as tar:
            for member in tar:
                if member.name == MANIFEST:
                    continue
                if not member.name.startswith(FILES) or not member.isfile():
                    raise ReleaseBundleError(f"bundle member {member.name!r} is not a release file")
                rel = safe_path(member.name[len(FILES) :])
                entry = release.files.get(rel)
                if entry is None:
                    raise ReleaseBundleError(f"bundle file {rel!r} is not in the signed manifest")
                if rel in seen:
                    raise ReleaseBundleError(f"bundle file {rel!r} appears twice")
                seen.add(rel)
                src = tar.extractfile(member)
                assert src is not None  # noqa: S101 - narrowing: a regular file member always has a file object
                _copy_checked(src, rel, entry, out)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ReleaseBundleError(f"{bundle}: not a readable release bundle ({exc})") from None
    missing = sorted(set(release.files) - seen)
    if missing:
        raise ReleaseBundleError(
            f"bundle lacks {len(missing)} signed file(s), first {missing[0]!r}"
        )
    return release


def _copy_checked(
    src: io.BufferedReader | Any, rel: str, entry: FileEntry, out: Path | None
) -> None:
    h = hashlib.sha256()
    size = 0
    target = None
    if out is not None:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        target = path.open("wb")
    try:
        while chunk := src.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
            if target is not None:
                target.write(chunk)
        if target is not None:
            target.flush()
            os.fsync(target.fileno())
    finally:
        if target is not None:
            target.close()
    if size != entry.size or h.hexdigest() != entry.sha256:
        raise ReleaseBundleError(f"bundle file {rel!r} does not match its signed hash")
    if out is not None:
        os.chmod(out / rel, stat.S_IMODE(entry.mode) & 0o755)


def release_signer(key_path: str | Path, passphrase: bytes | None = None) -> BundleSigner:
    """A signer of release manifests with the key in ``key_path``."""
    return BundleSigner(load_signing_key(key_path, passphrase))


def release_verifier(*public_keys: str | Path) -> BundleVerifier:
    """A verifier of release manifests trusting these public keys."""
    return BundleVerifier([load_public_key(Path(p)) for p in public_keys])
