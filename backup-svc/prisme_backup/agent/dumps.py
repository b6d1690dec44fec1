"""Database dumps to the staging area, before restic picks them up.

PostgreSQL is dumped with ``pg_dump`` in custom format; any other engine is a configured
command. Database passwords come from the agent's local configuration and reach the child
through its environment (``PGPASSWORD`` / ``PRISME_DB_PASSWORD``), never argv.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class DumpError(Exception):
    pass


@dataclass(frozen=True)
class DatabaseSource:
    """One business-software database of the practice.

    ``engine`` is ``postgresql`` (``conninfo`` without the password, e.g.
    ``host=… port=… dbname=… user=…``) or ``command`` (``command`` is argv; ``{output}`` in it is
    replaced by the dump file, otherwise the command's standard output is the dump)."""

    name: str
    engine: str
    conninfo: str | None = None
    command: tuple[str, ...] = ()
    extension: str = "dump"


@dataclass(frozen=True)
class DumpResult:
    name: str
    path: Path
    size: int


@dataclass(frozen=True)
class DumpRunner:
    pg_dump: str = "pg_dump"
    passwords: Mapping[str, str] = field(default_factory=dict, repr=False)

    async def dump(self, source: DatabaseSource, staging: Path) -> DumpResult:
        if not _SAFE_NAME.match(source.name):
            raise DumpError(f"invalid database source name {source.name!r}")
        await asyncio.to_thread(staging.mkdir, parents=True, exist_ok=True)
        target = staging / f"{source.name}.{source.extension}"
        partial = target.with_name(target.name + ".partial")
        env = dict(os.environ)
        password = self.passwords.get(source.name)
        if source.engine == "postgresql":
            if not source.conninfo:
                raise DumpError(f"{source.name}: postgresql source without conninfo")
            if password is not None:
                env["PGPASSWORD"] = password
            # -Z0: restic deduplicates uncompressed dumps from day to day; compressed ones
            # change entirely whenever a row changes.
            argv: Sequence[str] = [
                self.pg_dump,
                "--format=custom",
                "--compress=0",
                "--no-password",
                "--file",
                str(partial),
                "--dbname",
                source.conninfo,
            ]
            await _run(source.name, argv, env, stdout_to=None)
        elif source.engine == "command":
            if not source.command:
                raise DumpError(f"{source.name}: command source without command")
            if password is not None:
                env["PRISME_DB_PASSWORD"] = password
            if any("{output}" in a for a in source.command):
                argv = [a.replace("{output}", str(partial)) for a in source.command]
                await _run(source.name, argv, env, stdout_to=None)
            else:
                await _run(source.name, list(source.command), env, stdout_to=partial)
        else:
            raise DumpError(f"{source.name}: unknown engine {source.engine!r}")
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
