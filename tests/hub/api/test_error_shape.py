"""Every error of every route family leaves the hub in one shape, from one middleware.

A real hub with every extension (and a fleet CA, so that enrollment and the terminals' routes
are mounted) answers a refusal from each family; each body is checked against the one shape
``{"error": message, "code": code, "path"?: where}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hub.settings import ServicesConfig
from provisioning.ca import FleetCA
from tests.hub.api.test_typed_requests import assert_error

SHA = "ab" * 32


@pytest.fixture
async def rh(hub_config: Any, start_hub: Any, tmp_path: Path) -> Any:
    ca = FleetCA.init(tmp_path / "ca")
    services = ServicesConfig(proof_keys_dir=str(tmp_path / "keys"))
    return await start_hub(hub_config(ca_dir=str(ca.directory), services=services))


# (method, path, request options, status, code, path at fault)
CASES: list[tuple[str, str, dict[str, Any], int, str, str | None]] = [
    # core API: devices, telemetry, commands, device configs, fleet and tokens
    ("GET", "/api/v1/devices/nobody", {}, 404, "not_found", None),
    ("GET", "/api/v1/devices/nobody/telemetry?from=soon", {}, 400, "bad_request", "from"),
    ("POST", "/api/v1/commands", {"json": {"name": "reboot"}}, 400, "bad_request", "$.selector"),
    ("PUT", "/api/v1/devices/nobody/config", {"data": b"{"}, 400, "bad_request", "$"),
    ("POST", "/api/v1/rollouts", {"json": []}, 400, "bad_request", "$"),
    (
        "POST",
        "/api/v1/tokens",
        {"json": {"role": "king", "name": "x"}},
        400,
        "bad_request",
        "$.role",
    ),
    ("GET", "/api/v1/commands/404", {}, 404, "not_found", None),
    # console
    ("GET", "/api/v1/console/devices?state=lost", {}, 400, "bad_request", "state"),
    (
        "POST",
        "/api/v1/devices/nobody/certificate/revoke",
        {"json": {"x": 1}},
        400,
        "bad_request",
        "$.x",
    ),
    # alarms and rules
    ("PUT", "/api/v1/rules/r1", {"json": {"kind": "nonsense"}}, 400, "bad_request", "$.kind"),
    ("POST", "/api/v1/alarms/999/ack", {}, 404, "not_found", None),
    # emergency: dispatch, resources, webhooks
    ("GET", "/api/v1/resources/999", {}, 404, "not_found", None),
    ("POST", "/api/v1/webhooks", {"json": {"url": 5}}, 400, "bad_request", "$.url"),
    # citizen services
    ("GET", "/api/v1/services/errands/none", {}, 404, "not_found", None),
    ("POST", "/api/v1/services/ratings", {"json": {"level": 9}}, 400, "bad_request", "$.level"),
    # inspection: operators, console, terminals (no device certificate over plain HTTP)
    ("POST", "/api/v1/inspection/tasks", {"json": {"id": 1}}, 400, "bad_request", "$.id"),
    ("GET", "/api/v1/inspection/photos/nothex", {}, 404, "not_found", None),
    ("POST", "/api/v1/inspection/evidence", {"json": {}}, 400, "bad_request", "$.device_id"),
    (
        "POST",
        "/api/v1/inspection/uploads/offsets",
        {"json": {"sha256": []}},
        401,
        "unauthorized",
        None,
    ),
    ("PATCH", f"/api/v1/inspection/uploads/{SHA}", {}, 401, "unauthorized", None),
    # releases
    ("GET", "/api/v1/release-rollouts/none", {}, 404, "not_found", None),
    # audit
    ("GET", "/api/v1/audit?limit=none", {}, 400, "bad_request", "limit"),
    # certificates, enrollment and renewal (public routes)
    ("GET", "/api/v1/fleet/certificates?warn_days=-1", {}, 400, "bad_request", "warn_days"),
    (
        "POST",
        "/api/v1/renew/confirm",
        {"json": {"proof": "x"}},
        400,
        "bad_request",
        "$.certificate",
    ),
    # what aiohttp itself refuses, in the same shape: no route, wrong method, bad JSON, too large
    ("GET", "/static/no-such-file.js", {}, 404, "not_found", None),
    ("GET", "/no/such/page", {}, 404, "not_found", None),
    ("POST", "/metrics", {}, 405, "method_not_allowed", None),
    ("DELETE", "/verify", {}, 405, "method_not_allowed", None),
    ("POST", "/api/v1/devices", {"data": b'{"id": '}, 400, "bad_request", "$"),
    ("POST", "/api/v1/devices", {"data": b" " * (1024 * 1024 + 1)}, 413, "too_large", None),
    ("POST", "/api/v1/commands", {"data": b"[" * (1024 * 1024 + 1)}, 413, "too_large", None),
]


async def test_every_route_family_answers_errors_in_one_shape(rh: Any) -> None:
    failures = []
    for method, path, options, status, code, where in CASES:
        got_status, body = await rh.call(method, path, **options)
        try:
            assert got_status == status, got_status
            assert_error(body, code, where)
        except (AssertionError, KeyError, TypeError) as exc:
            failures.append(f"{method} {path}: {got_status} {json.dumps(body)[:200]} ({exc})")
    assert not failures, "\n".join(failures)


async def test_enrollment_refusals_have_the_shape_and_the_reason_as_code(rh: Any) -> None:
    """/enroll and /renew are provisioning's handlers: the same shape, the reason as code."""
    status, body = await rh.call(
        "POST", "/api/v1/enroll", json={"token": "nope", "model": "m", "csr": "x"}
    )
    assert status == 403, body
    assert_error(body, "unknown_token")
    status, body = await rh.call("POST", "/api/v1/renew", json={"csr": "x"})
    assert status == 400, body
    assert_error(body, "bad_request")
    assert "certificate" in body["error"]


async def test_tus_refusals_keep_their_status_and_headers(rh: Any) -> None:
    """The tus routes answer 460 / 415 / 409 as tus asks, with Tus-Resumable, in the one shape;
    reached here through the errors that carry them (no device certificate over plain HTTP is
    refused first, so the shape of that 401 is what is checked over the wire)."""
    from hub.inspection.errors import UploadRefused

    refused = UploadRefused("the bytes received do not hash to x", 460, {"Tus-Resumable": "1.0.0"})
    assert (refused.status, refused.code) == (460, "checksum_mismatch")
    assert UploadRefused("wrong type", 415, {}).code == "unsupported_media_type"
    async with rh.session.patch(
        rh.url + f"/api/v1/inspection/uploads/{SHA}",
        headers={"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"},
        data=b"x",
    ) as resp:
        assert resp.status == 401
        assert_error(await resp.json(), "unauthorized")
