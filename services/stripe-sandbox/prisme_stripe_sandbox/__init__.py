"""A stateful local stand-in for the Stripe API (see README.md)."""

from .app import create_app
from .sandbox import Sandbox
from .server import SandboxServer
from .webhooks import sign

__all__ = ["Sandbox", "SandboxServer", "create_app", "sign"]
