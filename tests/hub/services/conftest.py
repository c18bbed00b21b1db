"""A hub with the citizen services, its proof keys in the test's folder, and kiosk tokens."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hub.services.api import SERVICES, Services
from hub.services.ids import _ID_CHECK, _ID_WEIGHTS
from hub.settings import ServicesConfig

PEOPLE = [
    ("张三丰", "11010519491231002"),
    ("李小龙", "44030619401127003"),
    ("王芳", "31011519850615124"),
]


def id_number(first17: str) -> str:
    """A valid resident ID number (GB 11643 check character) from its first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return first17 + _ID_CHECK[total % 11]


@dataclass
class ServicesHub:
    rh: Any  # tests.hub.conftest.RunningHub
    kiosk_token: str
    device_id: str
    keys_dir: Path

    @property
    def services(self) -> Services:
        return self.rh.hub.extensions[SERVICES]  # type: ignore[no-any-return]

    @property
    def trust_path(self) -> Path:
        return self.keys_dir / "trust.json"

    async def kiosk(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        return await self.rh.call(method, "/api/v1" + path, self.kiosk_token, **kw)  # type: ignore[no-any-return]

    async def admin(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        return await self.rh.call(method, "/api/v1" + path, **kw)  # type: ignore[no-any-return]

    async def public(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        async with self.rh.session.request(method, self.rh.url + "/api/v1" + path, **kw) as resp:
            return resp.status, await resp.json(content_type=None)


@pytest.fixture
def services_hub(
    hub_config: Callable[..., Any], start_hub: Callable[..., Any], tmp_path: Path
) -> Callable[..., Any]:
    async def start(device_id: str = "kiosk-hall1-01", **services: Any) -> ServicesHub:
        keys = tmp_path / "proof-keys"
        config = hub_config(services=ServicesConfig(proof_keys_dir=str(keys), **services))
        rh = await start_hub(config)
        token = await asyncio.to_thread(rh.hub.tokens.create, "kiosk", device_id)
        return ServicesHub(rh, token, device_id, keys)

    return start


def make_proof_body(
    request_id: str = "req-1",
    proof_type: str = "residence_proof",
    person: int = 0,
    hall: str = "hall-1",
    **extra: Any,
) -> dict[str, Any]:
    name, first17 = PEOPLE[person]
    return {
        "request_id": request_id,
        "proof_type": proof_type,
        "subject": {"id_number": id_number(first17), "name": name},
        "hall": hall,
        "lang": "zh-CN",
        **extra,
    }


@pytest.fixture
def proof_body() -> Callable[..., dict[str, Any]]:
    """Makes the body of POST /services/proofs for one of the synthetic people."""
    return make_proof_body


@pytest.fixture
def people() -> list[tuple[str, str]]:
    """(name, full ID number) of the synthetic people."""
    return [(name, id_number(first17)) for name, first17 in PEOPLE]
