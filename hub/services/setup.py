"""``install(hub, app)``: the citizen services on a hub worker (routes, tables, pages)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from hub.context import Hub
from hub.services.api import SERVICES, Services, routes
from hub.services.applications import (
    ApplicationBackend,
    EmbeddedApplications,
    PlatformApplications,
)
from hub.services.catalog import Catalog
from hub.services.keys import ProofKeyring
from hub.services.ledger import Ledger
from hub.services.proofs import ProofService
from hub.services.ratings import RatingService
from hub.services.tables import create_tables

PAGES = Path(__file__).resolve().parent.parent / "static" / "services"


def build_services(hub: Hub) -> Services:
    """Build the services' parts: tables, catalog seed, keyring, ledger, proofs, ratings."""
    config = hub.config.services
    create_tables(hub.engine)
    catalog = Catalog(hub.engine)
    catalog.seed()
    keyring = ProofKeyring(Path(config.proof_keys_dir))
    ledger = Ledger(hub.engine, keyring, config.checkpoint_every)
    ledger.ensure_head()
    embedded = EmbeddedApplications(hub.engine)
    backend: ApplicationBackend = embedded
    if config.platform_url:
        backend = PlatformApplications(config.platform_url, config.platform_token)
    return Services(
        catalog,
        backend,
        embedded,
        ProofService(hub.engine, keyring, ledger, config),
        ledger,
        keyring,
        RatingService(hub.engine),
    )


def _page(name: str) -> Callable[[web.Request], Awaitable[web.FileResponse]]:
    async def serve(_: web.Request) -> web.FileResponse:
        return web.FileResponse(PAGES / name)

    return serve


def install(hub: Hub, app: web.Application) -> None:
    """Install the citizen services: their parts, routes and pages."""
    services = build_services(hub)
    hub.extensions.add(SERVICES, services)
    routes.install(app)
    app.router.add_get("/verify", _page("verify.html"))
    app.router.add_get("/services/ratings", _page("ratings.html"))
