"""Roles, deny-by-default, clear 400s, and the OpenAPI document matching the routes."""

from __future__ import annotations

from aiohttp import web


async def test_roles_and_tokens(hub_config, start_hub) -> None:
    rh = await start_hub(hub_config())
    async with rh.session.get(rh.url + "/api/v1/devices") as resp:
        assert resp.status == 401
    status, _ = await rh.call("GET", "/api/v1/devices", token="ge_not-a-token")
    assert status == 401
    status, body = await rh.call("POST", "/api/v1/tokens", json={"role": "viewer"})
    assert status == 201
    viewer = body["token"]
    assert (await rh.call("GET", "/api/v1/devices", token=viewer))[0] == 200
    status, body = await rh.call("POST", "/api/v1/devices", token=viewer, json={"id": "x1"})
    assert status == 403 and "viewer" in body["error"]
    status, _ = await rh.call("POST", "/api/v1/tokens", token=viewer, json={"role": "admin"})
    assert status == 403
    _, body = await rh.call("POST", "/api/v1/tokens", json={"role": "operator"})
    operator = body["token"]
    assert (await rh.call("POST", "/api/v1/devices", token=operator, json={"id": "x1"}))[0] == 201
    from hub.auth import hash_token

    listed = rh.hub.tokens.all()
    assert all("token" not in t for t in listed)
    import sqlalchemy as sa

    from hub.db import tokens

    with rh.hub.engine.connect() as conn:
        hashes = {r[0] for r in conn.execute(sa.select(tokens.c.token_hash))}
    assert operator not in hashes and hash_token(operator) in hashes


async def test_bad_requests_get_clear_errors(hub_config, start_hub) -> None:
    rh = await start_hub(hub_config())
    cases = [
        ("GET", "/api/v1/devices?limit=0", "limit"),
        ("GET", "/api/v1/devices?online=maybe", "online"),
        ("GET", "/api/v1/devices/nope", "no device"),
        ("POST", "/api/v1/commands", "body is not JSON"),
    ]
    for method, path, needle in cases:
        status, body = await rh.call(method, path, data=b"{not json")
        assert status in (400, 404), (path, body)
        assert needle in body["error"], body
    status, body = await rh.call("POST", "/api/v1/commands", json={"name": "ping", "selector": {}})
    assert status == 400 and "selector" in body["error"]
    status, body = await rh.call("POST", "/api/v1/devices", json={"id": "a/b"})
    assert status == 400 and "device id" in body["error"]


async def test_undeclared_route_is_denied(hub_config) -> None:
    from hub.app import create_app

    app = create_app(hub_config(), start_mqtt=False)

    async def sneaky(_: web.Request) -> web.Response:
        return web.Response(text="secret")

    app.router.add_get("/api/v1/sneaky", sneaky)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    import aiohttp

    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/api/v1/sneaky") as r:
        assert r.status == 403
    await runner.cleanup()


async def test_openapi_matches_the_routes(hub_config, start_hub) -> None:
    rh = await start_hub(hub_config())
    async with rh.session.get(rh.url + "/api/v1/openapi.json") as resp:
        doc = await resp.json()
    assert doc["openapi"].startswith("3.")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    served = {
        (r.method, r.resource.canonical)
        for r in rh.app.router.routes()
        if r.resource is not None
        and r.resource.canonical.startswith("/api/v1")
        and r.method not in ("HEAD", "OPTIONS")  # protocol discovery (tus): headers, no JSON
    }
    assert documented == served
    for ops in doc["paths"].values():
        for op in ops.values():
            assert op["summary"]
