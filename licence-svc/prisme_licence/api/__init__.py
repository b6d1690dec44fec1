"""HTTP routes of licence-svc (DESIGN §4), one module per use case; the schemas are
``prisme_licence.schemas``."""

from fastapi import APIRouter

from . import accounts, alerts, progress, tenants

routers: list[APIRouter] = [tenants.router, accounts.router, alerts.router, progress.router]

__all__ = ["routers"]
