"""``govedge hub backup`` and ``govedge hub restore``: the registry (devices, alarms, configs,
commands, the proofs ledger: all in the hub's database), the telemetry database when it is
SQLite, the keys (proof keys, the config signing key, the fleet CA, the trusted release keys) and
the stored release bundles.

- SQLite is copied with SQLite's online backup API: a consistent snapshot while the hub writes.
- PostgreSQL is dumped with ``pg_dump --format=custom`` (one consistent snapshot too) and
  restored with ``pg_restore --clean --if-exists``.
- InfluxDB telemetry is not in the backup: back it up with ``influx backup`` (docs/deploy.md).

A backup is a directory holding ``manifest.json`` (what is where, with SHA-256 of every file);
restore checks every hash before it writes anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from govedge import __version__
from govedge.logs import fields, get_logger
from hub.errors import BackupError
from hub.settings import HubConfig

log = get_logger(__name__)

FORMAT = "govedge-hub-backup/1"
MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class Database:
    """A database to back up or restore, as its kind and the target its tools take."""

    kind: str  # sqlite or postgresql
    target: str  # file path or libpq URL

    @classmethod
    def of(cls, url: str) -> Database | None:
        """The database of a SQLAlchemy URL, or None when there is no file or server to back up (an
        in-memory SQLite or an unknown dialect)."""
        parsed = make_url(url)
        if parsed.drivername.startswith("sqlite"):
            if not parsed.database or parsed.database == ":memory:":
                return None
            return cls("sqlite", parsed.database)
        if parsed.drivername.startswith("postgresql"):
            libpq = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            return cls("postgresql", libpq)
        return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _sqlite_copy(src: str | Path, dst: str | Path) -> None:
    """SQLite's online backup: consistent even while another process writes ``src``."""
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=30)
    try:
        target = sqlite3.connect(str(dst), timeout=30)
        try:
            source.backup(target, pages=1024, sleep=0.005)
        finally:
            target.close()
    finally:
        source.close()


def _run(argv: list[str], what: str) -> None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=3600)  # noqa: S603 - pg_dump/pg_restore, no shell
    except FileNotFoundError:
        raise BackupError(
            f"{what}: {argv[0]} is not installed (apt-get install postgresql-client)"
        ) from None
    if result.returncode != 0:
        raise BackupError(f"{what} failed: {result.stderr.strip()[:500]}")


def _dump_database(url: str, out: Path, name: str) -> dict[str, Any] | None:
    db = Database.of(url)
    if db is None:
        return None
    if db.kind == "sqlite":
        if not Path(db.target).exists():
            raise BackupError(f"{name} database {db.target} does not exist")
        path = out / f"{name}.sqlite3"
        _sqlite_copy(db.target, path)
    else:
        path = out / f"{name}.pgdump"
        _run(["pg_dump", "--format=custom", "--no-owner", "-f", str(path), db.target], "pg_dump")
    return {"kind": db.kind, "file": path.name}


def _copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, symlinks=False, dirs_exist_ok=False)


def backup(config: HubConfig, out: str | Path) -> dict[str, Any]:
    """Take a backup of the hub described by ``config`` into the new directory ``out``."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)  # it holds private keys
    started = time.time()
    manifest: dict[str, Any] = {"format": FORMAT, "hub_version": __version__, "created": started}
    manifest["registry"] = _dump_database(config.database_url, out, "registry")
    if manifest["registry"] is None:
        raise BackupError(f"the registry database {config.database_url!r} cannot be backed up")
    manifest["telemetry"] = _dump_database(config.telemetry_url, out, "telemetry")
    keys = out / "keys"
    keys.mkdir()
    parts: dict[str, str] = {}
    proof_keys = Path(config.services.proof_keys_dir)
    if proof_keys.is_dir():
        _copy_tree(proof_keys, keys / "proof-keys")
        parts["proof_keys"] = "keys/proof-keys"
    if config.config_signing_key and Path(config.config_signing_key).is_file():
        shutil.copy2(config.config_signing_key, keys / "config-signing.pem")
        parts["config_signing_key"] = "keys/config-signing.pem"
    if config.ca_dir and Path(config.ca_dir).is_dir():
        _copy_tree(Path(config.ca_dir), keys / "ca")
        parts["ca_dir"] = "keys/ca"
    if config.releases.public_keys:
        (keys / "release").mkdir()
        for i, pub in enumerate(config.releases.public_keys):
            shutil.copy2(pub, keys / "release" / f"{i}-{Path(pub).name}")
        parts["release_keys"] = "keys/release"
    releases_dir = Path(config.releases.directory)
    if releases_dir.is_dir():
        (out / "releases").mkdir()
        for bundle in releases_dir.glob("*.tar"):
            shutil.copy2(bundle, out / "releases" / bundle.name)
        parts["releases"] = "releases"
    manifest["parts"] = parts
    manifest["files"] = {
        str(p.relative_to(out)): _sha256(p) for p in sorted(out.rglob("*")) if p.is_file()
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    log.info(
        "hub_backup_taken",
        extra=fields(
            out=str(out), files=len(manifest["files"]), seconds=round(time.time() - started, 3)
        ),
    )
    return manifest


def _check(source: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source}: no readable {MANIFEST} ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source}: not a govedge hub backup")
    for rel, digest in manifest["files"].items():
        path = source / rel
        if not path.is_file() or _sha256(path) != digest:
            raise BackupError(f"{source}: {rel} is missing or damaged; nothing was restored")
    return dict(manifest)


def _restore_database(source: Path, part: dict[str, Any] | None, url: str, force: bool) -> None:
    if part is None:
        return
    db = Database.of(url)
    if db is None or db.kind != part["kind"]:
        raise BackupError(f"the backup holds a {part['kind']} database; the config names {url!r}")
    dump = source / part["file"]
    if db.kind == "sqlite":
        target = Path(db.target)
        if target.exists() and target.stat().st_size and not force:
            raise BackupError(f"{target} exists; restore over it with --force")
        target.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(dump, target)
    else:
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                "-d",
                db.target,
                str(dump),
            ],
            "pg_restore",
        )


def _pg_has_data(url: str) -> bool:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("devices"):
                return False
            return bool(conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM devices)")).scalar())
    finally:
        engine.dispose()


def _restore_tree(src: Path, dst: Path, force: bool) -> None:
    if dst.exists() and any(dst.iterdir()):
        if not force:
            raise BackupError(f"{dst} exists; restore over it with --force")
        shutil.rmtree(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, dst, dirs_exist_ok=True)


def restore(config: HubConfig, source: str | Path, force: bool = False) -> dict[str, Any]:
    """Restore a backup into the locations ``config`` names (the hub must be stopped)."""
    source = Path(source)
    manifest = _check(source)
    _restore_database(source, manifest.get("registry"), config.database_url, force)
    _restore_database(source, manifest.get("telemetry"), config.telemetry_url, force)
    parts = manifest.get("parts", {})
    if "proof_keys" in parts:
        _restore_tree(source / parts["proof_keys"], Path(config.services.proof_keys_dir), force)
    if "config_signing_key" in parts and config.config_signing_key:
        target = Path(config.config_signing_key)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / parts["config_signing_key"], target)
        os.chmod(target, 0o600)
    if "ca_dir" in parts and config.ca_dir:
        _restore_tree(source / parts["ca_dir"], Path(config.ca_dir), force)
    if "release_keys" in parts:
        saved = sorted((source / parts["release_keys"]).iterdir())
        for i, pub in enumerate(config.releases.public_keys):
            match = [p for p in saved if p.name.startswith(f"{i}-")]
            if match and not Path(pub).exists():
                Path(pub).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(match[0], pub)
    if "releases" in parts:
        directory = Path(config.releases.directory)
        directory.mkdir(parents=True, exist_ok=True)
        for bundle in (source / parts["releases"]).glob("*.tar"):
            shutil.copy2(bundle, directory / bundle.name)
    log.info("hub_restored", extra=fields(source=str(source), created=manifest["created"]))
    return manifest
