"""The signature check of desired configs: a pluggable hook.

With ``config_signing.public_key_file`` set in the device config, every config/desired must carry a
valid Ed25519 signature by the hub's key (provisioning.bundles: ``ed25519:<key id>:<base64>`` over
the canonical JSON of ``{"config", "version"}``); unsigned or wrongly signed configs are refused.
Without a key every desired config is refused (a default that fails closed), unless the device
config sets ``config_signing.allow_unsigned`` for development, which the agent logs loudly at start.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from edge_agent.errors import SignatureError
from govedge.errors import ConfigError, GovedgeError


class ConfigVerifier(Protocol):
    """Raises SignatureError unless ``signature`` signs ``(version, config)``."""

    def __call__(self, version: int, config: Mapping[str, Any], signature: str) -> None:
        """Return if the signature holds; SignatureError saying why not (no key, unsigned,
        unknown key id, bad signature) otherwise."""


def accept_unsigned(version: int, config: Mapping[str, Any], signature: str) -> None:
    """The verifier when no hub key is configured and unsigned configs are allowed (development)."""


def refuse_all(version: int, config: Mapping[str, Any], signature: str) -> None:
    """The verifier when no hub key is configured: nothing can be checked, so nothing applies."""
    raise SignatureError(
        "no hub key to check it against (config_signing.public_key_file is not set, and "
        "config_signing.allow_unsigned is false)"
    )


def ed25519_verifier(public_key_file: str | Path) -> ConfigVerifier:
    """A verifier trusting the hub's public key(s) in ``public_key_file`` (PEM)."""
    try:
        from provisioning.bundles import BundleVerifier
    except ImportError as exc:  # the provisioning extra is not installed
        raise ConfigError(
            f"config_signing.public_key_file is set but signature checks need {exc.name}"
        ) from None
    try:
        verifier = BundleVerifier.from_files(public_key_file)
    except (OSError, GovedgeError, ValueError) as exc:
        raise ConfigError(
            f"config_signing.public_key_file: cannot load {public_key_file}: {exc}"
        ) from None

    def verify(version: int, config: Mapping[str, Any], signature: str) -> None:
        try:
            verifier.verify_config(version, config, signature)
        except GovedgeError as exc:
            raise SignatureError(str(exc)) from None

    return verify
