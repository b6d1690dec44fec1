"""`prisme operators …`: the dashboard's operators, in local mode.

The command runs the dashboard's own management command (``python -m
prisme_dashboard.manage``) against the dashboard's database: ``PRISME_DASHBOARD_DATABASE_URL``
when set, otherwise the database of the platform `prisme up` runs on this data dir.  It is a
tool for whoever runs the platform's machine (who holds the database anyway); operators
manage each other on the dashboard's pages.
"""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

from .datadir import DataDir
from .state import RunState

DATABASE = "dashboard"


def database_url(data_dir: DataDir) -> str | None:
    explicit = os.environ.get("PRISME_DASHBOARD_DATABASE_URL")
    if explicit:
        return explicit
    if not data_dir.state_file.exists():
        return None
    admin = RunState.load(data_dir.state_file).infra.postgres_dsn
    if not admin:
        return None
    parts = urlsplit(admin)
    return urlunsplit(parts._replace(path=f"/{DATABASE}"))


def run(data_dir: DataDir, argv: list[str], python: str = sys.executable) -> int:
    dsn = database_url(data_dir)
    if dsn is None:
        print(
            "no dashboard database: start `prisme up` on this data dir, or set "
            "PRISME_DASHBOARD_DATABASE_URL",
            file=sys.stderr,
        )
        return 2
    env = {**os.environ, "PRISME_DASHBOARD_DATABASE_URL": dsn}
    done = subprocess.run(
        [python, "-m", "prisme_dashboard.manage", "operators", *argv], env=env, check=False
    )
    return done.returncode
