"""Installs the audit log in a hub: its table, the outermost middleware, the search route."""

from __future__ import annotations

from aiohttp import web

from hub.audit.api import AUDIT_STORE, routes
from hub.audit.middleware import make_middleware
from hub.audit.store import AuditStore
from hub.context import Hub


def install(hub: Hub, app: web.Application) -> None:
    """Install the audit log: its table, its middleware (outermost) and its routes."""
    store = AuditStore(hub.engine)
    store.create_table()
    hub.extensions.add(AUDIT_STORE, store)
    # First in the list = outermost: refused calls are recorded with the status they got.
    app.middlewares.insert(0, make_middleware(store))
    routes.install(app)
