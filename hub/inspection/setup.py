"""``install(hub, app)``: the inspection extension (tables, services, routes)."""

from __future__ import annotations

from aiohttp import web

from hub.context import Hub
from hub.enrollment import ENROLLMENT
from hub.inspection.api import INSPECTION, Inspection, install_head, photo_folder, routes
from hub.inspection.console_api import routes as console_routes
from hub.inspection.db import create_tables
from hub.inspection.tasks import TaskService
from hub.inspection.uploads import PhotoStore


def install(hub: Hub, app: web.Application) -> None:
    """Tasks for operators always; terminals' routes need the fleet CA (``ca_dir``)."""
    create_tables(hub.engine)
    enrollment = hub.extensions.get(ENROLLMENT)
    ca = enrollment.ca if enrollment is not None else None
    if ca is None and hub.config.ca_dir:
        from provisioning.ca import FleetCA, passphrase_from_env

        ca = FleetCA.open(hub.config.ca_dir, passphrase_from_env())
    inspection = Inspection(
        hub.engine,
        TaskService(hub.engine),
        PhotoStore(photo_folder(hub.config.database_url)),
        ca,
        {"records_accepted": 0, "records_refused": 0, "device_auth_failed": 0},
    )
    hub.extensions.add(INSPECTION, inspection)
    routes.install(app)
    console_routes.install(app)
    install_head(app)
