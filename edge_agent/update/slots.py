"""The release slots of a device: ``<root>/slots/<version>/`` directories and the ``current``
symlink that names the active one. Switching is one ``rename(2)`` of a fresh symlink over
``current``, so after a power cut ``current`` names either the old slot or the new, never
neither."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from edge_agent.update.errors import UpdateError
from edge_agent.update.state import UpdateState, fsync_dir
from provisioning.bundles import BundleVerifier
from provisioning.errors import ProvisioningError
from provisioning.releases import Release, read_manifest, unpack_bundle

PARTIAL = ".partial"
AGENT_ENTRY = "bin/govedge-agent"
"""What the launcher runs in the active slot (a release's agent entry point)."""


class Slots:
    """The release slots on disk: installed versions, downloads and the current link."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.slots = self.root / "slots"
        self.downloads = self.root / "downloads"
        self.current = self.root / "current"
        self.state_path = self.root / "update.json"

    def prepare(self) -> None:
        """Create the slots and downloads folders if missing."""
        self.slots.mkdir(parents=True, exist_ok=True)
        self.downloads.mkdir(parents=True, exist_ok=True)

    def state(self) -> UpdateState:
        """The saved update state, or an idle one when there is no state file yet."""
        return UpdateState.load(self.state_path)

    def save(self, state: UpdateState) -> None:
        """Write ``state`` so that it survives a power cut (see edge_agent.update.state)."""
        state.save(self.state_path)

    def slot(self, version: str) -> Path:
        """The folder of an installed ``version`` (it may not exist)."""
        return self.slots / version

    def current_version(self) -> str:
        """The version ``current`` points at, or "" when there is none."""
        try:
            target = os.readlink(self.current)
        except (FileNotFoundError, OSError):
            return ""
        version = Path(target).name
        return version if self.slot(version).is_dir() else ""

    def install(
        self, bundle: Path, verifier: BundleVerifier, version: str | None = None
    ) -> Release:
        """Verify ``bundle`` file by file into ``slots/<version>.partial`` and rename it into
        place. Anything wrong leaves no slot behind and raises UpdateError."""
        self.prepare()
        partial: Path | None = None
        try:
            release = read_manifest(bundle, verifier)
            if version is not None and release.version != version:
                raise UpdateError(f"bundle holds {release.version!r}, not {version!r}")
            partial = self.slots / (release.version + PARTIAL)
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            unpack_bundle(bundle, verifier, partial, expect_version=release.version)
        except (ProvisioningError, UpdateError) as exc:
            if partial is not None:
                shutil.rmtree(partial, ignore_errors=True)
            raise UpdateError(str(exc)) from None
        final = self.slot(release.version)
        if final.exists():
            if release.version == self.current_version():
                shutil.rmtree(partial)
                return release
            shutil.rmtree(final)
        fsync_dir(partial)
        os.rename(partial, final)
        fsync_dir(self.slots)
        return release

    def switch(self, version: str) -> None:
        """Point ``current`` at ``slots/<version>`` with one atomic rename."""
        if not self.slot(version).is_dir():
            raise UpdateError(f"no installed slot for release {version!r}")
        tmp = self.root / "current.tmp"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(Path("slots") / version, tmp)
        os.rename(tmp, self.current)
        fsync_dir(self.root)

    def cleanup(self, keep: set[str]) -> None:
        """Remove partial slots and every slot not in ``keep`` (the active and previous)."""
        if not self.slots.is_dir():
            return
        for path in self.slots.iterdir():
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)
        for path in self.downloads.iterdir() if self.downloads.is_dir() else []:
            if path.name.split(".tar")[0] not in keep:
                path.unlink(missing_ok=True)
