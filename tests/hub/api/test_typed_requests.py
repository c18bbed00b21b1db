"""Requests are validated from the routes' typed declarations; every error has one shape."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hub.api.routing import ApiRoutes
from hub.auth import READ
from hub.context import HUB_KEY


def assert_error(body: Any, code: str, path: str | None = None) -> None:
    """The one error shape: a message, a code and (where there is one) the path at fault."""
    assert isinstance(body["error"], str) and body["error"], body
    assert body["code"] == code, body
    assert body.get("path") == path, body
    assert set(body) <= {"error", "code", "path"}, body


@pytest.mark.parametrize(
    ("device", "path"),
    [
        ({"location": [None, None]}, "$.location"),
        ({"location": "AAA"}, "$.location"),
        ({"location": {"lat": "x", "lon": 1}}, "$.location.lat"),
        ({"labels": ["a"]}, "$.labels"),
        ({"labels": "x"}, "$.labels"),
        ({"firmware": {"x": 1}}, "$.firmware"),
        ({"model": 5}, "$.model"),
        ({"location": {"lat": 95, "lon": 1}}, "$.location.lat"),
        ({"location": {"lat": 1, "lon": 500}}, "$.location.lon"),
        ({"colour": "red"}, "$.colour"),
        ({"id": 7}, "$.id"),
        ({"id": None}, "$.id"),
    ],
)
async def test_bad_device_bodies_are_400_naming_the_json_path(
    hub_config: Any, start_hub: Any, device: dict[str, Any], path: str
) -> None:
    rh = await start_hub(hub_config())
    status, body = await rh.call("POST", "/api/v1/devices", json={"id": "kiosk-1", **device})
    assert status == 400, body
    assert_error(body, "bad_request", path)
    assert path in body["error"]
    status, _ = await rh.call("GET", "/api/v1/devices/kiosk-1")
    assert status == 404  # nothing of it was stored


async def test_nul_characters_are_refused_before_any_database_sees_them(
    hub_config: Any, start_hub: Any
) -> None:
    """PostgreSQL cannot store U+0000 in text: refused as bad input, never a 500."""
    rh = await start_hub(hub_config())
    status, body = await rh.call("POST", "/api/v1/devices", json={"id": "k1", "model": "a\x00b"})
    assert status == 400, body
    assert_error(body, "bad_request", "$")
    assert "NUL" in body["error"]
    status, body = await rh.call("GET", "/api/v1/devices?site=a%00b")
    assert status == 400, body
    assert_error(body, "bad_request", "site")


async def test_a_good_device_body_is_stored_as_sent(hub_config: Any, start_hub: Any) -> None:
    rh = await start_hub(hub_config())
    device = {
        "id": "kiosk-1",
        "model": "hall-kiosk",
        "site": "district-3",
        "location": {"lat": -90, "lon": 180},
        "labels": {"floor": "2"},
        "firmware": "1.4.2",
    }
    status, body = await rh.call("POST", "/api/v1/devices", json=device)
    assert status == 201, body
    assert {k: body[k] for k in device} == device


async def test_unknown_routes_and_methods_are_404_and_405(hub_config: Any, start_hub: Any) -> None:
    rh = await start_hub(hub_config())
    for path in ("/api/v1/nothing-here", "/api/v1/devices/x/nothing", "/nothing-here"):
        status, body = await rh.call("GET", path)
        assert status == 404, (path, body)
        assert_error(body, "not_found")
    async with rh.session.delete(rh.url + "/api/v1/devices", headers=rh.headers()) as resp:
        assert resp.status == 405
        assert set(resp.headers["Allow"].split(",")) == {"GET", "POST"}
        assert_error(await resp.json(), "method_not_allowed")
    async with rh.session.patch(rh.url + "/api/v1/openapi.json") as resp:
        assert resp.status == 405  # no token needed to learn that
        assert_error(await resp.json(), "method_not_allowed")


async def test_unknown_and_ill_typed_query_parameters_are_refused(
    hub_config: Any, start_hub: Any
) -> None:
    rh = await start_hub(hub_config())
    cases = [
        ("/api/v1/devices?state=offline", "state"),
        ("/api/v1/devices?limit=0", "limit"),
        ("/api/v1/devices?limit=ten", "limit"),
        ("/api/v1/devices?online=maybe", "online"),
        ("/api/v1/devices?site=a&site=b", "site"),
        ("/api/v1/health?verbose=1", "verbose"),
        ("/api/v1/alarms?state=offline", "state"),
        ("/api/v1/services/errands?lang=fr", "lang"),
        ("/api/v1/services/ratings/summary", "group"),
    ]
    for url, name in cases:
        status, body = await rh.call("GET", url)
        assert status == 400, (url, body)
        assert_error(body, "bad_request", name)
        assert repr(name) in body["error"], body
    # the token in the query (for browsers' WebSockets) is not an unknown parameter
    async with rh.session.get(
        rh.url + "/api/v1/devices", params={"access_token": rh.admin_token, "limit": "5"}
    ) as resp:
        assert resp.status == 200


async def test_the_openapi_document_declares_every_response(
    hub_config: Any, start_hub: Any
) -> None:
    rh = await start_hub(hub_config())
    async with rh.session.get(rh.url + "/api/v1/openapi.json") as resp:
        doc = await resp.json()
    schemas = doc["components"]["schemas"]
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    assert schemas["ErrorBody"]["required"] == ["error", "code"]
    device_in = schemas["DeviceIn"]
    assert device_in["additionalProperties"] is False
    assert schemas["Location"]["properties"]["lat"] == {
        "type": "number",
        "minimum": -90,
        "maximum": 90,
    }
    operations = [op for ops in doc["paths"].values() for op in ops.values()]
    assert len(operations) > 40
    for op in operations:
        codes = set(op["responses"])
        ok = [c for c in codes if c.startswith("2")]
        assert ok, op["summary"]
        for code, answer in op["responses"].items():
            schema = answer["content"]["application/json"]["schema"]
            if code.startswith("2"):
                assert schema, op["summary"]
            else:
                assert schema == error_ref, (op["summary"], code)
        assert "400" in codes
        if "x-roles" in op:
            assert {"401", "403"} <= codes
    register = doc["paths"]["/api/v1/devices"]["post"]
    assert set(register["responses"]) == {"201", "400", "401", "403"}
    assert register["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Device"
    }
    listing = doc["paths"]["/api/v1/devices"]["get"]
    limit = next(p for p in listing["parameters"] if p["name"] == "limit")
    assert limit["schema"]["minimum"] == 1 and limit["schema"]["maximum"] == 1000


async def test_an_unexpected_failure_is_a_500_in_the_one_shape(
    hub_config: Any, caplog: Any
) -> None:
    from hub.app import create_app

    app = create_app(hub_config(), start_mqtt=False)
    broken = ApiRoutes("broken")

    @broken.get("/broken", roles=READ, summary="fails")
    async def fail(_: web.Request) -> web.Response:
        raise RuntimeError("secret detail of a bug")

    broken.install(app)
    token = app[HUB_KEY].tokens.create("viewer", "tests")
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with (
            aiohttp.ClientSession() as s,
            s.get(
                f"http://127.0.0.1:{port}/api/v1/broken",
                headers={"Authorization": f"Bearer {token}"},
            ) as r,
        ):
            assert r.status == 500
            body = await r.json()
    finally:
        await runner.cleanup()
    assert_error(body, "internal")
    assert "secret detail" not in body["error"] and "Traceback" not in body["error"]
    assert any(rec.message == "request_failed" for rec in caplog.records)
