"""The agents' access to the repository server: one user per plan (K1, K3, R8).

The repository server (``rclone serve restic --append-only --private-repos --htpasswd FILE``)
lets user ``u`` reach only ``/u/`` and never delete or rewrite a file there. backup-svc keeps
each plan's user and the bcrypt hash of its password in the plan's row; the htpasswd file is a
projection of those rows, rewritten whole (atomic rename; rclone re-reads it when it changes)
whenever they change and by the watch loop, so a file left behind by a rolled-back transaction
is corrected within one interval. A plan has a line only while it is active, has an enrolled
agent and is within its quota.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from pathlib import Path

import asyncpg
import bcrypt
import httpx
from prisme_chassis.db import transaction

from .. import errors, repository
from ..agent.protocol import RepositoryAccess
from .context import Backups

#: The password is 256 random bits, not something a person chose: a dictionary attack is
#: hopeless at any cost, and the server verifies the hash on every request of a backup, so a
#: low bcrypt cost keeps copies fast without weakening anything.
BCRYPT_ROUNDS = 6
#: How long an enrolment waits for the repository server to know its new user.
USERS_RELOAD_TIMEOUT = 10.0
_USERS_LOCK = "backup-svc:repository-users-file"


def new_user() -> str:
    """A fresh repository user name; it is also the repository's top directory."""
    return "p" + secrets.token_hex(8)


def location_for(ctx: Backups, user: str) -> str:
    """Where backup-svc itself reaches the repository of ``user``."""
    return f"{ctx.repository_base}/{user}"


def agent_location(ctx: Backups, user: str) -> str:
    """The repository as an agent reaches it, through the repository server."""
    return f"rest:{ctx.repository_server_url}/{user}/"


def new_access(user: str) -> tuple[RepositoryAccess, str]:
    """A new password for ``user``: what the agent gets once, and the hash the server keeps."""
    password = secrets.token_urlsafe(32)
    digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode()
    return RepositoryAccess(username=user, password=password), digest


def render(users: list[tuple[str, str]]) -> str:
    return "".join(f"{user}:{digest}\n" for user, digest in sorted(users))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text() == text:
        return
    # a name of its own: two threads of one process never write the same temporary file
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o640)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def publish_committed(pool: asyncpg.Pool, ctx: Backups) -> int:
    """Rewrite the users file from the committed rows (after a commit, e.g. an enrolment)."""
    async with transaction(pool) as conn:
        return await publish_users(conn, ctx)


async def wait_until_known(
    ctx: Backups, access: RepositoryAccess, timeout: float = USERS_RELOAD_TIMEOUT
) -> None:
    """Until the repository server accepts ``access`` (rclone re-reads the users file when it
    changes); raises :class:`RepositoryServerUnavailable` after ``timeout`` seconds."""
    url = f"{ctx.repository_server_url.rstrip('/')}/{access.username}/config"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with httpx.AsyncClient(timeout=2.0) as client:
        while True:
            try:
                answer = await client.head(url, auth=(access.username, access.password))
                if answer.status_code != 401:
                    return
            except httpx.TransportError:
                pass
            if loop.time() > deadline:
                raise errors.RepositoryServerUnavailable(
                    "the repository server has not taken the new user yet"
                )
            await asyncio.sleep(0.05)


async def publish_users(conn: asyncpg.Connection, ctx: Backups) -> int:
    """Rewrite the repository server's users from the plans; returns how many have access.

    One publisher at a time: the lock is held until the caller's transaction ends, so the next
    publisher reads after this one committed and whoever writes last saw every earlier change
    (two enrolments, or an enrolment and the watch loop, can never each write a file without
    the other's user)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", _USERS_LOCK)
    users = await repository.repository_users(conn)
    await asyncio.to_thread(_write, ctx.users_file, render(users))
    return len(users)
