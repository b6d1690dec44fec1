"""Operator routes of backup-svc (bearer JWT with ``backups:*`` scopes), one module per use
case; the agents' routes are ``agent_api``."""

from fastapi import APIRouter

from . import alerts, exports, histories, plans

routers: list[APIRouter] = [plans.router, histories.router, alerts.router, exports.router]

__all__ = ["routers"]
