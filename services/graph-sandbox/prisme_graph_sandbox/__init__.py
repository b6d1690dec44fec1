"""A stateful local stand-in for the Microsoft Graph endpoints licence-svc uses."""

from .app import create_app
from .state import Directory

__all__ = ["Directory", "create_app"]
