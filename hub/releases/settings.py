"""The hub's release settings (``"releases"`` in the hub config)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta


class ReleasesConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Where releases are kept, which keys sign them and how rollouts go."""

    directory: str = "var/hub/releases"  # where uploaded bundles are kept
    public_keys: list[str] = msgspec.field(default_factory=list)  # release keys (PEM) trusted
    public_url: str = ""  # the hub's address as devices reach it; default: the request's
    health_gate_s: Annotated[float, Meta(ge=0)] = 600.0  # default T of a rollout
    windows: dict[str, str] = msgspec.field(default_factory=dict)  # site -> "22:00-06:00"
    command_ttl_s: Annotated[float, Meta(ge=1)] = 3600.0
    # A device sent the release that has reported nothing after this long counts as failed
    # (offline all along, or stuck): a rollout never waits forever on one device.
    report_timeout_s: Annotated[float, Meta(gt=0)] = 7200.0
