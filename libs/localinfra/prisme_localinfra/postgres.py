from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .ports import free_port

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def pg_bin_dir() -> Path:
    """The PostgreSQL binaries shipped inside the ``pgserver`` package."""
    import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin"


class PostgresServer:
    """A real PostgreSQL cluster under ``data_dir``, listening on 127.0.0.1:``port``.

    ``durable=False`` (tests) turns off fsync: a crash of the whole machine may lose data, a
    crash or restart of the server does not.
    """

    def __init__(self, data_dir: Path, port: int | None = None, *, durable: bool = True) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self._port_chosen = port is None
        self.durable = durable
        self.bin = pg_bin_dir()
        # PostgreSQL refuses to run as root: then it runs as a dedicated system user, as pgserver does.
        self._tmp_socket_dir: Path | None = None
        self._binaries_reachable = False
        self.system_user: str | None = "pgserver" if os.geteuid() == 0 else None

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def admin_dsn(self) -> str:
        return self.dsn("postgres")

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> str:
        self._reach_binaries()
        out = subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=False,
            user=self.system_user,
            cwd="/",
        )
        if out.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {out.stderr.strip() or out.stdout.strip()}")
        return out.stdout

    def init(self) -> None:
        if (self.pgdata / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._own(self.data_dir)
        self._run(
            "initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip

    def _reach_binaries(self) -> None:
        """The system user must traverse to the binaries, e.g. a checkout under a 0700 dir."""
        if self.system_user is None or self._binaries_reachable:
            return
        from pgserver.utils import ensure_prefix_permissions

        ensure_prefix_permissions(self.bin / "postgres")
        self._binaries_reachable = True

    def _own(self, path: Path) -> None:
        if self.system_user is None:
            return
        from pgserver.utils import (
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        entry = ensure_user_exists(self.system_user)
        assert entry is not None
        ensure_prefix_permissions(path)
        os.chown(path, entry.pw_uid, entry.pw_gid)

    def _socket_dir(self) -> str:
        candidate = self.data_dir / "run"
        if len(str(candidate)) > 80:  # unix socket paths are limited to ~107 bytes
            candidate = Path(tempfile.mkdtemp(prefix="prisme-pg-"))
            self._tmp_socket_dir = candidate
        candidate.mkdir(parents=True, exist_ok=True)
        self._own(candidate)
        return str(candidate)

    def start(self) -> None:
        """Start the cluster; a port picked here that someone took meanwhile is picked again."""
        self.init()
        self._own(self.data_dir)  # a parent may have lost its traversal bits since init
        log = self.data_dir / "postgres.log"
        for attempt in range(3):
            options = [
                f"-p {self.port}",
                "-h 127.0.0.1",
                f"-k {self._socket_dir()}",
                "-c max_connections=400",
                "-c shared_buffers=64MB",
            ]
            if not self.durable:
                options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
            seen = log.stat().st_size if log.exists() else 0
            try:
                self._run(
                    "pg_ctl", "-D", str(self.pgdata), "-l", str(log),
                    "-o", " ".join(options), "-w", "-t", "30", "start",
                )  # fmt: skip
                return
            except RuntimeError as exc:
                said = _tail(log, seen)
                if self._port_chosen and attempt < 2 and "already in use" in said:
                    self.port = free_port()
                    continue
                raise RuntimeError(f"{exc}\n{said}") from None

    def stop(self, mode: str = "fast") -> None:
        if not (self.pgdata / "postmaster.pid").exists():
            return
        self._run("pg_ctl", "-D", str(self.pgdata), "-m", mode, "-w", "-t", "30", "stop")
        if self._tmp_socket_dir is not None:
            shutil.rmtree(self._tmp_socket_dir, ignore_errors=True)
            self._tmp_socket_dir = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def pid(self) -> int | None:
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists():
            return None
        return int(pidfile.read_text().splitlines()[0])

    def psql(self, sql: str, database: str = "postgres") -> str:
        return self._run(
            "psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-d", self.dsn(database), "-c", sql
        )

    def create_database(self, name: str) -> str:
        """Create ``name`` unless it exists; return its DSN."""
        if not _IDENT.match(name):
            raise ValueError(f"not a plain database name: {name!r}")
        # name matched _IDENT above: no quoting can be broken
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip()  # noqa: S608
        if not exists:
            self.psql(f'CREATE DATABASE "{name}"')
        return self.dsn(name)


def _tail(log: Path, offset: int, limit: int = 2000) -> str:
    """What the server wrote to ``log`` after ``offset`` (its last ``limit`` characters)."""
    if not log.exists():
        return ""
    with log.open("rb") as fh:
        fh.seek(offset)
        return fh.read().decode(errors="replace")[-limit:].strip()
