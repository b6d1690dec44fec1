"""Database dumps to the staging area, before restic picks them up.

Only the databases of the agent's local configuration are dumped, the way it describes them
(:class:`~.config.LocalDatabase`): PostgreSQL with ``pg_dump`` in custom format, anything else
with the command the host's administrator wrote there. A plan from the server only names them.
Passwords come from the local configuration and reach the child through its environment
(``PGPASSWORD`` / ``PRISME_DB_PASSWORD``), never argv.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .config import LocalDatabase


class DumpError(Exception):
    pass


class UnknownSourceError(DumpError):
    """The plan names a database this host's configuration does not list: refused."""


def select_sources(names: Sequence[str], local: Sequence[LocalDatabase]) -> list[LocalDatabase]:
    """The local databases the plan names, in the plan's order; refuses the whole plan when
    one name is not configured on this host (nothing is dumped)."""
    by_name = {d.name: d for d in local}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise UnknownSourceError(
            "the plan names database(s) not in this agent's configuration: " + ", ".join(unknown)
        )
    return [by_name[n] for n in names]


@dataclass(frozen=True)
class DumpResult:
    name: str
    path: Path
    size: int


@dataclass(frozen=True)
class DumpRunner:
    pg_dump: str = "pg_dump"

    async def dump(self, source: LocalDatabase, staging: Path) -> DumpResult:
        await asyncio.to_thread(staging.mkdir, parents=True, exist_ok=True)
        target = staging / f"{source.name}.{source.extension}"
        partial = target.with_name(target.name + ".partial")
        env = dict(os.environ)
        env.pop("PGPASSWORD", None)
        env.pop("PRISME_DB_PASSWORD", None)
        if source.engine == "postgresql":
            assert source.conninfo is not None
            if source.password is not None:
                env["PGPASSWORD"] = source.password
            # -Z0: restic deduplicates uncompressed dumps from day to day; compressed ones
            # change entirely whenever a row changes.
            argv: Sequence[str] = [
                source.pg_dump or self.pg_dump,
                "--format=custom",
                "--compress=0",
                "--no-password",
                "--file",
                str(partial),
                "--dbname",
                source.conninfo,
            ]
            await _run(source.name, argv, env, stdout_to=None)
        else:
            if source.password is not None:
                env["PRISME_DB_PASSWORD"] = source.password
            if any("{output}" in a for a in source.command):
                argv = [a.replace("{output}", str(partial)) for a in source.command]
                await _run(source.name, argv, env, stdout_to=None)
            else:
                await _run(source.name, list(source.command), env, stdout_to=partial)
        return await asyncio.to_thread(_finish, source.name, partial, target)


def _finish(name: str, partial: Path, target: Path) -> DumpResult:
    if not partial.exists():
        raise DumpError(f"{name}: the dump produced no file")
    partial.replace(target)
    return DumpResult(name, target, target.stat().st_size)


async def _run(name: str, argv: Sequence[str], env: dict[str, str], stdout_to: Path | None) -> None:
    out = stdout_to.open("wb") if stdout_to is not None else None
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out if out is not None else asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        _, err = await proc.communicate()
    except FileNotFoundError as exc:
        raise DumpError(f"{name}: {exc.strerror}: {argv[0]}") from exc
    finally:
        if out is not None:
            out.close()
    if proc.returncode != 0:
        text = err.decode(errors="replace").strip()[-1000:]
        raise DumpError(f"{name}: dump exited {proc.returncode}: {text}")
