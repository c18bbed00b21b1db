"""Property-based fuzzing of every route of the OpenAPI document, with a token of each role.

Schemathesis generates requests from the hub's own document, valid ones (positive) and ones that
break it (negative: wrong types, out-of-range values, unknown fields), and sends them to a real
hub (aiohttp on loopback, a real Mosquitto, SQLite) with a token of each role. A response fails
the test if it is a 5xx, if its status or body is not what the document declares for the route,
or if a request that breaks the document is accepted. The runs are derandomized, so the same
examples are sent each time, to a hub started fresh for the test: state-changing calls cannot
make the outcome depend on an earlier test.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from hub.app import create_app
from hub.auth import ROLES
from hub.context import HUB_KEY
from hub.settings import HubConfig

EXAMPLES_ADMIN = 8
"""Valid, then invalid, requests per route as admin (or as anyone, to a public route)."""
EXAMPLES_ROLE = 3
"""Valid requests per route as another role that may use it."""
EXAMPLES_REFUSED = 1
"""Valid requests per route as a role that may not (it must get a 403)."""
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class ThreadedHub:
    """A hub serving from its own thread and event loop, as a separate server would: the
    fuzzer's blocking HTTP client calls it from the test's thread."""

    url: str
    tokens: dict[str, str]
    stop: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def threaded_hub(hub_config: Any) -> Iterator[ThreadedHub]:
    config: HubConfig = hub_config()
    ready: dict[str, Any] = {}
    started = threading.Event()
    stop = threading.Event()

    async def serve() -> None:
        from aiohttp import web

        app = create_app(config)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        hub = app[HUB_KEY]
        ready["port"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready["tokens"] = {role: hub.tokens.create(role, f"fuzz-{role}") for role in ROLES}
        ready["connected"] = await asyncio.to_thread(hub.link.connected.wait, 10)
        started.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await runner.cleanup()

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as exc:  # noqa: BLE001 - surfaced to the test below
            ready["failed"] = exc
            started.set()

    thread = threading.Thread(target=run, name="fuzzed-hub", daemon=True)
    thread.start()
    assert started.wait(30), "the hub did not start"
    assert "failed" not in ready, ready.get("failed")
    assert ready["connected"]
    hub = ThreadedHub(f"http://127.0.0.1:{ready['port']}", ready["tokens"], stop)
    yield hub
    stop.set()
    thread.join(30)


def examples(role: str, may: bool) -> int:
    if role in ("admin", "anyone"):
        return EXAMPLES_ADMIN
    return EXAMPLES_ROLE if may else EXAMPLES_REFUSED


def fuzz_operation(
    strategy: Any,
    url: str,
    session: requests.Session,
    token: str,
    checks: list[Any],
    examples: int,
    statuses: Counter[int],
) -> None:
    """Send ``examples`` cases of one operation with one token; raise on the first failure."""

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def fuzz(case: Any) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = case.call(base_url=url, session=session, headers=headers, timeout=15)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=checks, headers=headers)

    fuzz()


SEED: list[tuple[str, dict[str, Any]]] = [
    ("/api/v1/devices", {"id": "kiosk-1", "model": "kiosk", "location": {"lat": 1, "lon": 2}}),
    ("/api/v1/resources", {"kind": "team", "name": "Team A", "location": {"lat": 1, "lon": 2}}),
    ("/api/v1/webhooks", {"url": "http://127.0.0.1:9/hook", "secret": "s" * 16}),
]
"""Something for the listings to answer with, so that their items meet the declared schemas."""


def test_every_route_fuzzed_with_every_role(threaded_hub: ThreadedHub) -> None:
    session = requests.Session()
    admin = {"Authorization": f"Bearer {threaded_hub.tokens['admin']}"}
    for path, body in SEED:
        answer = session.post(threaded_hub.url + path, json=body, headers=admin, timeout=15)
        assert answer.status_code == 201, answer.text
    document = session.get(threaded_hub.url + "/api/v1/openapi.json", timeout=15).json()
    schema = schemathesis.openapi.from_dict(document)  # the document's own route included
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    unbreakable: set[str] = set()
    routes = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the document does not load: {result.err()}"
        operation = result.ok()
        routes += 1
        roles = operation.definition.raw.get("x-roles")
        # a public route is the same to every caller: fuzzed once, without a token
        callers = threaded_hub.tokens if roles else {"anyone": ""}
        for role, token in callers.items():
            may = roles is None or role == "admin" or role in roles
            # Invalid requests are refused alike for every role that passes: sent as admin (or
            # as anyone to a public route); a refused role gets a 403 before the request is read.
            modes = MODES if role in ("admin", "anyone") else MODES[:1]
            for mode in modes:
                checks = [*CHECKS, negative_data_rejection] if may else CHECKS
                try:
                    fuzz_operation(
                        operation.as_strategy(generation_mode=mode),
                        threaded_hub.url,
                        session,
                        token,
                        checks,
                        examples(role, may),
                        statuses,
                    )
                except Unsatisfiable:
                    # nothing of this operation can be made invalid (no parameters, no body)
                    assert mode is GenerationMode.NEGATIVE, operation.label
                    unbreakable.add(operation.label)
                except (AssertionError, BaseExceptionGroup) as exc:
                    failures.append(f"{operation.label} as {role} ({mode.value}): {exc}")
    total = sum(statuses.values())
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    print(
        f"\nAPI fuzz: {total} examples, {routes} routes, {len(threaded_hub.tokens)} roles, "
        f"{server_errors} 5xx; statuses {dict(sorted(statuses.items()))}; "
        f"{len(unbreakable)} routes take nothing to break"
    )
    assert not failures, "\n\n".join(failures[:10])
    assert server_errors == 0
    declared = sum(len(ops) for ops in document["paths"].values())
    assert routes == declared >= 40 and total > routes * len(threaded_hub.tokens)
    assert statuses[200] + statuses[201] > 0 and statuses[400] > 0 and statuses[403] > 0
