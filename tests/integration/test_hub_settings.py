"""The hub's identity settings on their own: what ca_dir and config_signing_key switch on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import hub.app
from firmware_configs.schema import parse_device_config
from govedge.errors import ConfigError, GovedgeError
from hub.context import HUB_KEY
from hub.settings import HubConfig
from provisioning.bundles import BundleVerifier
from provisioning.ca import FleetCA


def _config(tmp_path: Path, **overrides: Any) -> HubConfig:
    return HubConfig(
        database_url=f"sqlite:///{tmp_path / 'registry.db'}",
        telemetry_url=f"sqlite:///{tmp_path / 'telemetry.db'}",
        **overrides,
    )


def _paths(app: object) -> set[str]:
    return {r.resource.canonical for r in app.router.routes() if r.resource}  # type: ignore[attr-defined]


def test_without_a_ca_dir_the_extension_adds_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub.app, "EXTENSION_MODULES", ("hub.enrollment",))
    app = hub.app.create_app(_config(tmp_path), start_mqtt=False)
    paths = _paths(app)
    assert "/api/v1/enroll" not in paths and "/api/v1/fleet/certificates" not in paths
    assert app[HUB_KEY].device_configs.signer is None
    app[HUB_KEY].engine.dispose()


def test_with_a_ca_dir_enrollment_is_public_and_configs_are_signed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = FleetCA.init(tmp_path / "ca")
    monkeypatch.setattr(hub.app, "EXTENSION_MODULES", ("hub.enrollment",))
    config = _config(tmp_path, ca_dir=str(ca.directory), config_signing_key=str(ca.bundle_key_path))
    app = hub.app.create_app(config, start_mqtt=False)
    paths = _paths(app)
    assert {"/api/v1/enroll", "/api/v1/renew", "/api/v1/fleet/certificates"} <= paths
    signer = app[HUB_KEY].device_configs.signer
    assert signer is not None
    signature = signer(3, {"publish": {}})
    BundleVerifier.from_files(ca.bundle_public_path).verify_config(3, {"publish": {}}, signature)
    app[HUB_KEY].engine.dispose()


def test_a_missing_ca_dir_or_key_stops_the_hub_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub.app, "EXTENSION_MODULES", ("hub.enrollment",))
    with pytest.raises(GovedgeError, match="holds no CA"):
        hub.app.create_app(_config(tmp_path, ca_dir=str(tmp_path / "nothing")), start_mqtt=False)
    with pytest.raises(GovedgeError):
        hub.app.create_app(
            _config(tmp_path, config_signing_key=str(tmp_path / "none.key")), start_mqtt=False
        )


def test_device_configs_take_an_optional_identity_section() -> None:
    base = b'{"device_id": "d1", "model": "m", "broker": {"url": "mqtt://127.0.0.1:1883"}'
    assert parse_device_config(base + b"}", "x").identity.hub_url == ""
    ok = parse_device_config(base + b', "identity": {"hub_url": "https://hub.city:8443"}}', "x")
    assert ok.identity.hub_url == "https://hub.city:8443"
    with pytest.raises(ConfigError, match=r"\$.identity.hub_url"):
        parse_device_config(base + b', "identity": {"hub_url": "ftp://hub"}}', "x")
