"""An async wrapper around the ``restic`` command line.

The repository password and the storage backend's credentials travel through the child's
environment (``RESTIC_PASSWORD``, ``AWS_*``, ``AZURE_*``), never through argv, so they do not show
in ``ps`` or in our logs. Every command that can speak JSON is run with ``--json`` and parsed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

# restic exits 3 when the snapshot was written but some source files could not be read.
EXIT_INCOMPLETE = 3
_BASE_ENV_KEYS = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "XDG_CACHE_HOME")


class ResticError(Exception):
    """A restic command failed. The message never carries the repository password."""

    def __init__(self, command: str, returncode: int, stderr: str) -> None:
        super().__init__(f"restic {command} exited {returncode}: {stderr.strip()[-2000:]}")
        self.command = command
        self.returncode = returncode
        self.stderr = stderr


@dataclass(frozen=True)
class Repository:
    """Where a restic repository lives and how to open it.

    ``location`` is a local path or a restic backend URL (``rest:https://user:pw@host/user/``,
    ``s3:…``, ``azure:…``); ``env`` holds the backend's credentials (e.g. ``AWS_ACCESS_KEY_ID``).
    ``location`` goes by environment (``RESTIC_REPOSITORY``) too, never argv."""

    location: str = field(repr=False)
    password: str = field(repr=False)
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: other values never to show in an error (a password inside ``location``)
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def is_local(self) -> bool:
        return ":" not in self.location.split("/", 1)[0] or self.location.startswith("local:")


def rest_location(url: str, username: str, password: str) -> str:
    """``rest:<url>`` with the credentials in it (restic 0.14 reads them only from the URL)."""
    scheme, sep, rest = url.removeprefix("rest:").partition("://")
    if not sep:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return f"rest:{scheme}://{quote(username, safe='')}:{quote(password, safe='')}@{rest}"


@dataclass(frozen=True)
class Progress:
    percent_done: float
    files_done: int
    total_files: int
    bytes_done: int
    total_bytes: int


@dataclass(frozen=True)
class BackupSummary:
    snapshot_id: str
    files_new: int
    files_changed: int
    files_unmodified: int
    data_added: int
    total_files_processed: int
    total_bytes_processed: int
    total_duration: float
    incomplete: bool = False
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    id: str
    short_id: str
    time: datetime
    paths: tuple[str, ...]
    hostname: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Entry:
    """A file or directory inside a snapshot (``restic ls --json``)."""

    path: str
    type: str
    size: int
    mtime: datetime | None


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    subset: str | None
    output: str


ProgressCallback = Callable[[Progress], Awaitable[None] | None]


def _parse_time(value: str) -> datetime:
    # restic prints nanoseconds; Python keeps microseconds.
    head, sep, tail = value.partition(".")
    if sep:
        digits = "".join(c for c in tail if c.isdigit())
        rest = tail[len(digits) :]
        value = f"{head}.{digits[:6]}{rest}"
    value = value.replace("Z", "+00:00")
    return datetime.fromisoformat(value)


def _snapshot(raw: Mapping[str, Any]) -> Snapshot:
    return Snapshot(
        id=raw["id"],
        short_id=raw.get("short_id", raw["id"][:8]),
        time=_parse_time(raw["time"]),
        paths=tuple(raw.get("paths") or ()),
        hostname=raw.get("hostname", ""),
        tags=tuple(raw.get("tags") or ()),
    )


class Restic:
    """One restic repository, driven through the ``restic`` binary."""

    def __init__(
        self,
        repo: Repository,
        *,
        binary: str = "restic",
        cache_dir: Path | None = None,
        host: str | None = None,
        progress_fps: float = 2.0,
        lock_wait: float = 600.0,
    ) -> None:
        self.repo = repo
        self.lock_wait = lock_wait
        self.progress_fps = progress_fps
        self.binary = binary
        self.cache_dir = cache_dir
        self.host = host

    def _env(self) -> dict[str, str]:
        env = {k: os.environ[k] for k in _BASE_ENV_KEYS if k in os.environ}
        env.update(self.repo.env)
        env["RESTIC_REPOSITORY"] = self.repo.location
        env["RESTIC_PASSWORD"] = self.repo.password
        # --time and snapshot times are read and printed in UTC whatever the machine says.
        env["TZ"] = "UTC"
        env["RESTIC_PROGRESS_FPS"] = str(self.progress_fps)
        return env

    def _argv(self, args: Sequence[str]) -> list[str]:
        argv = [self.binary]
        if self.cache_dir is not None:
            argv += ["--cache-dir", str(self.cache_dir)]
        else:
            argv.append("--no-cache")
        return argv + list(args)

    def _scrub(self, text: str) -> str:
        if self.repo.password:
            text = text.replace(self.repo.password, "***")
        for value in (*self.repo.env.values(), *self.repo.secrets):
            if value:
                text = text.replace(value, "***")
        return text

    async def _run(
        self,
        args: Sequence[str],
        *,
        ok_codes: Sequence[int] = (0,),
        on_line: Callable[[str], Awaitable[None]] | None = None,
    ) -> tuple[int, str, str]:
        """Run restic; while the repository is locked by the other side (the agent adding a
        copy, backup-svc pruning), wait and try again for up to ``lock_wait`` seconds (restic
        0.14 has no ``--retry-lock``)."""
        deadline = asyncio.get_running_loop().time() + self.lock_wait
        while True:
            try:
                return await self._run_once(args, ok_codes=ok_codes, on_line=on_line)
            except ResticError as exc:
                locked = "repository is already locked" in exc.stderr
                if not locked or asyncio.get_running_loop().time() > deadline:
                    raise
            await asyncio.sleep(1.0)

    async def _run_once(
        self,
        args: Sequence[str],
        *,
        ok_codes: Sequence[int] = (0,),
        on_line: Callable[[str], Awaitable[None]] | None = None,
    ) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            *self._argv(args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._env(),
        )
        assert proc.stdout is not None
        assert proc.stderr is not None
        out_lines: list[str] = []

        async def read_out() -> None:
            assert proc.stdout is not None
            async for raw in proc.stdout:
                line = raw.decode(errors="replace")
                if on_line is not None:
                    await on_line(line)
                else:
                    out_lines.append(line)

        try:
            _, err = await asyncio.gather(read_out(), proc.stderr.read())
            rc = await proc.wait()
        except BaseException:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
        stdout, stderr = "".join(out_lines), self._scrub(err.decode(errors="replace"))
        if rc not in ok_codes:
            raise ResticError(args[0], rc, stderr or self._scrub(stdout))
        return rc, stdout, stderr

    def _initialised_marker(self) -> Path | None:
        """A file in the cache saying this repository was seen initialised (its name is a
        digest of the location, which carries the access credentials: never in clear)."""
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256(self.repo.location.encode()).hexdigest()[:32]
        return self.cache_dir / f"prisme-initialised-{digest}"

    def _remember_initialised(self, known: bool) -> None:
        marker = self._initialised_marker()
        if marker is None:
            return
        if known:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        else:
            marker.unlink(missing_ok=True)

    async def init(self) -> bool:
        """Create the repository; ``False`` when it already exists.

        With a cache directory, a repository once seen initialised is not probed again (the
        probe is a restic process and a key derivation: the fixed cost of every daily run,
        P6); a failed backup forgets it, so the next run probes and initialises again."""
        marker = self._initialised_marker()
        if marker is not None and marker.exists():
            return False
        if await self.exists():
            self._remember_initialised(True)
            return False
        # no retry: backup-svc answers an enrolment once the repository server knows the user
        await self._run(["init", "--json"])
        self._remember_initialised(True)
        return True

    async def exists(self) -> bool:
        try:
            await self._run(["--no-lock", "cat", "config"])
        except ResticError:
            return False
        return True

    async def backup(
        self,
        paths: Sequence[str | Path],
        *,
        tags: Sequence[str] = (),
        time: datetime | None = None,
        on_progress: ProgressCallback | None = None,
        excludes: Sequence[str] = (),
    ) -> BackupSummary:
        """Back ``paths`` up; ``time`` back-dates the snapshot (restic's ``--time``)."""
        args = ["backup", "--json"]
        if self.host:
            args += ["--host", self.host]
        for tag in tags:
            args += ["--tag", tag]
        for pattern in excludes:
            args += ["--exclude", pattern]
        if time is not None:
            args += ["--time", time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")]
        args += ["--", *(str(p) for p in paths)]
        summary: dict[str, Any] = {}
        errors: list[str] = []

        async def line(text: str) -> None:
            text = text.strip()
            if not text.startswith("{"):
                return
            try:
                msg = json.loads(text)
            except json.JSONDecodeError:
                return
            kind = msg.get("message_type")
            if kind == "status" and on_progress is not None:
                result = on_progress(
                    Progress(
                        percent_done=float(msg.get("percent_done", 0.0)),
                        files_done=int(msg.get("files_done", 0)),
                        total_files=int(msg.get("total_files", 0)),
                        bytes_done=int(msg.get("bytes_done", 0)),
                        total_bytes=int(msg.get("total_bytes", 0)),
                    )
                )
                if result is not None:
                    await result
            elif kind == "summary":
                summary.update(msg)
            elif kind == "error":
                item = msg.get("item", "")
                errors.append(f"{item}: {msg.get('error', {}).get('message', '')}".strip())

        try:
            rc, _, _ = await self._run(args, ok_codes=(0, EXIT_INCOMPLETE), on_line=line)
            if not summary.get("snapshot_id"):
                raise ResticError("backup", rc, "no snapshot was written")
        except ResticError:
            self._remember_initialised(False)  # the repository may be gone: probe next time
            raise
        return BackupSummary(
            snapshot_id=summary["snapshot_id"],
            files_new=int(summary.get("files_new", 0)),
            files_changed=int(summary.get("files_changed", 0)),
            files_unmodified=int(summary.get("files_unmodified", 0)),
            data_added=int(summary.get("data_added", 0)),
            total_files_processed=int(summary.get("total_files_processed", 0)),
            total_bytes_processed=int(summary.get("total_bytes_processed", 0)),
            total_duration=float(summary.get("total_duration", 0.0)),
            incomplete=rc == EXIT_INCOMPLETE,
            errors=tuple(errors),
        )

    async def snapshots(self, *, tags: Sequence[str] = ()) -> list[Snapshot]:
        args = ["snapshots", "--json"]
        for tag in tags:
            args += ["--tag", tag]
        _, out, _ = await self._run(args)
        return sorted((_snapshot(s) for s in json.loads(out or "[]")), key=lambda s: s.time)

    async def forget(self, *, keep_within: str = "30d", prune: bool = True) -> list[str]:
        """Apply the history (K1): keep the snapshots within ``keep_within`` of the latest one
        (the whole repository is one history, whichever agent wrote it).

        Returns the ids of the snapshots removed."""
        args = ["forget", "--json", "--keep-within", keep_within, "--group-by", ""]
        if prune:
            args.append("--prune")
        _, out, _ = await self._run(args)
        removed: list[str] = []
        for text in out.splitlines():
            if text.startswith("["):
                for group in json.loads(text):
                    removed += [s["id"] for s in group.get("remove") or ()]
                break
        return removed

    async def check(self, *, read_data_subset: str | None = None) -> CheckResult:
        """``restic check``; ``read_data_subset`` like ``"3/7"`` also reads that share of packs."""
        args = ["check"]
        if read_data_subset == "all":
            args.append("--read-data")
        elif read_data_subset:
            args += ["--read-data-subset", read_data_subset]
        try:
            _, out, err = await self._run(args)
        except ResticError as exc:
            return CheckResult(ok=False, subset=read_data_subset, output=str(exc))
        return CheckResult(ok=True, subset=read_data_subset, output=(out + err)[-2000:])

    async def restore(
        self,
        snapshot: str,
        target: Path,
        *,
        include: Sequence[str] = (),
    ) -> None:
        args = ["restore", snapshot, "--target", str(target)]
        for path in include:
            args += ["--include", path]
        await self._run(args)

    async def ls(self, snapshot: str) -> list[Entry]:
        _, out, _ = await self._run(["ls", "--json", snapshot])
        entries: list[Entry] = []
        for text in out.splitlines():
            if not text.startswith("{"):
                continue
            raw = json.loads(text)
            if raw.get("struct_type") != "node":
                continue
            mtime = raw.get("mtime")
            entries.append(
                Entry(
                    path=raw["path"],
                    type=raw.get("type", ""),
                    size=int(raw.get("size", 0)),
                    mtime=_parse_time(mtime) if mtime else None,
                )
            )
        return entries

    async def dump_chunks(self, snapshot: str, chunk: int = 1 << 20) -> AsyncIterator[bytes]:
        """The whole snapshot as a tar archive, streamed (nothing written to disk in clear)."""
        proc = await asyncio.create_subprocess_exec(
            *self._argv(["dump", "--archive", "tar", snapshot, "/"]),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._env(),
        )
        assert proc.stdout is not None
        assert proc.stderr is not None
        errors = asyncio.create_task(proc.stderr.read())
        try:
            while data := await proc.stdout.read(chunk):
                yield data
            await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        err = await errors
        if proc.returncode != 0:
            raise ResticError(
                "dump", proc.returncode or -1, self._scrub(err.decode(errors="replace"))
            )

    async def forget_ids(self, ids: Sequence[str], *, prune: bool = True) -> None:
        if ids:
            await self._run(["forget", *(["--prune"] if prune else []), *ids])

    async def raw_size(self) -> int:
        """Bytes the repository stores (``restic stats --mode raw-data``): the quota measure."""
        _, out, _ = await self._run(["stats", "--json", "--mode", "raw-data"])
        return int(json.loads(out).get("total_size", 0))
