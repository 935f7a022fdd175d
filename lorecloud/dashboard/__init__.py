"""Lore Cloud web dashboard: server-rendered pages over the metadata the server keeps.

The app factory calls :func:`setup_dashboard`. This package's ``__init__`` stays
import-light on purpose: ``lore-server user add`` should not load jinja2. The schema
the pages need is owned by the backends (:mod:`lorecloud.backends.dashboard_schema`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from lorecloud.service import SyncService

__all__ = ["setup_dashboard"]


def setup_dashboard(app: web.Application, service: SyncService) -> None:
    """Mount the dashboard's routes on the server's app, backed by its ``SyncService``."""
    from lorecloud.dashboard.adapter import ServiceDashboard
    from lorecloud.dashboard.mount import mount_dashboard

    mount_dashboard(app, ServiceDashboard(service))
