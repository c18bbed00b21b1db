"""The update state file (``<root>/update.json``): what the updater was doing when the power went.

Every step of an install writes the state first (to a temporary file, fsynced, renamed over the
old one, directory fsynced), so after a power cut the launcher and the agent read exactly one
complete state and resume or roll back from it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

IDLE = "idle"
DOWNLOADING = "downloading"  # the bundle is being fetched (resumable)
INSTALLING = "installing"  # verified files are being written into slots/<version>.partial
INSTALLED = "installed"  # slots/<version> is complete and verified; nothing is switched
SWITCHING = "switching"  # current is about to point at the new slot
TRIAL = "trial"  # current points at the new slot; it has not yet reported healthy
CONFIRMED = "confirmed"  # the new release came up healthy
ROLLED_BACK = "rolled_back"  # the new release did not; current points at the previous again
FAILED = "failed"  # refused before anything was switched (bad bundle, download failure)

BEFORE_SWITCH = (DOWNLOADING, INSTALLING, INSTALLED)
FINAL = (IDLE, CONFIRMED, ROLLED_BACK, FAILED)


@dataclass(slots=True)
class UpdateState:
    """The update's progress, saved to disk at each step."""

    state: str = IDLE
    version: str = ""
    previous: str = ""
    url: str = ""
    manifest: dict[str, Any] = field(default_factory=dict)
    size: int = 0
    attempts: int = 0
    reason: str = ""
    reported: bool = True
    command_id: str = ""

    @classmethod
    def load(cls, path: Path) -> UpdateState:
        """The state saved at ``path``, or an idle state when there is none; unknown keys
        (from a newer release) are ignored."""
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self, path: Path) -> None:
        """Replace the file at ``path`` with this state in one step that survives a power cut."""
        write_atomic(path, json.dumps(asdict(self), sort_keys=True).encode("utf-8"))


def fsync_dir(path: Path) -> None:
    """Flush ``path``'s directory entries to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step that survives a power cut."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
