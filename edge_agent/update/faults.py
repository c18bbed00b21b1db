"""Power-cut points for the install tests: with ``GOVEDGE_UPDATE_POWER_CUT=<step>`` in its
environment, the process group (launcher and agent, as a power cut would) is killed with
SIGKILL when the updater reaches ``<step>``. Unset, this does nothing."""

from __future__ import annotations

import os
import signal

ENV = "GOVEDGE_UPDATE_POWER_CUT"
STEPS = (
    "download",  # part of the bundle is on disk
    "downloaded",  # the whole bundle is on disk, not yet verified
    "installing",  # half the files are in the partial slot
    "installed",  # the slot is complete, nothing switched
    "switching",  # the switch is recorded, the symlink not yet renamed
    "switched",  # the symlink points at the new slot, the agent has not restarted
    "trial",  # the new release runs but has not confirmed
)


def cut(step: str) -> None:
    """Kill the process group at ``step`` when the fault variable names it (tests only)."""
    if os.environ.get(ENV) == step:
        os.killpg(os.getpgid(0), signal.SIGKILL)
