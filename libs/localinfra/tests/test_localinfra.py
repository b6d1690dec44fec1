"""The embedded servers really start, restart and stop."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from prisme_localinfra import NatsServer, PostgresServer
from prisme_localinfra.ports import port_open


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_nats_start_restart_stop(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "nats")
    server.start()
    try:
        assert port_open(server.port)
        first = server.pid
        server.restart()
        assert port_open(server.port)
        assert server.pid != first
    finally:
        server.stop()
    assert not port_open(server.port)
    assert first is not None
    assert not _alive(first)


def test_postgres_databases_survive_restart(tmp_path: Path) -> None:
    server = PostgresServer(tmp_path / "pg", durable=False)
    server.start()
    try:
        dsn = server.create_database("svc_one")
        assert dsn.endswith("/svc_one")
        assert server.create_database("svc_one") == dsn  # idempotent
        server.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (42)", "svc_one")
        server.restart()
        assert server.psql("SELECT x FROM t", "svc_one").strip() == "42"
        with pytest.raises(ValueError, match="plain database name"):
            server.create_database("bad; DROP")
    finally:
        server.stop()
    assert not port_open(server.port)


def test_postgres_takes_another_port_when_the_one_it_picked_was_taken(tmp_path: Path) -> None:
    """Between picking a free port and binding it, another process may take it (tests in
    parallel, ``prisme up`` beside them): the server picks again instead of failing."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        server = PostgresServer(tmp_path / "pg", durable=False)
        server.port = taken  # as if someone bound it right after it was picked
        server.start()
        try:
            assert server.port != taken
            assert server.psql("SELECT 1").strip() == "1"
        finally:
            server.stop()
        # a port the caller chose is the caller's: refused, and the log says why
        pinned = PostgresServer(tmp_path / "pinned", port=taken, durable=False)
        with pytest.raises(RuntimeError, match="already in use"):
            pinned.start()
