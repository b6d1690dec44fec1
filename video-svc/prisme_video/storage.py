"""Where sealed objects live: a small blocking protocol, the local filesystem by default.

The methods block (file or network I/O); the service always calls them through
``asyncio.to_thread``. An S3-compatible or Azure Blob backend implements the same four methods
(multipart upload for the writer, ranged GET for ``read_at``) and is chosen in settings.
Only ciphertext ever reaches a backend.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class ObjectWriter(Protocol):
    def write(self, data: bytes) -> None: ...
    def commit(self) -> None: ...
    def abort(self) -> None: ...


class ObjectReader(Protocol):
    def read_at(self, offset: int, length: int) -> bytes: ...
    def close(self) -> None: ...


class ObjectStore(Protocol):
    def create(self, name: str) -> ObjectWriter: ...
    def open(self, name: str) -> ObjectReader: ...
    def size(self, name: str) -> int: ...
    def delete(self, name: str) -> None: ...
    def list(self) -> Iterator[tuple[str, datetime]]:
        """Every object (unfinished ones too) with its last modification time."""
        ...


class ObjectMissingError(Exception):
    pass


def check_name(name: str) -> None:
    """Object names are relative paths of plain segments (they come from video ids)."""
    if not _NAME.match(name) or ".." in name:
        raise ValueError(f"invalid object name {name!r}")


class _LocalWriter:
    def __init__(self, final: Path) -> None:
        self._final = final
        self._part = final.with_name(final.name + ".part")
        final.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self._part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._open = True

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def commit(self) -> None:
        os.fsync(self._fd)
        self._close()
        os.replace(self._part, self._final)

    def abort(self) -> None:
        """Drop an unfinished object (a no-op once committed: delete it through the store)."""
        self._close()
        self._part.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._open:
            self._open = False
            os.close(self._fd)


class _LocalReader:
    def __init__(self, path: Path) -> None:
        try:
            self._fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError as exc:
            raise ObjectMissingError(str(path)) from exc

    def read_at(self, offset: int, length: int) -> bytes:
        data = os.pread(self._fd, length, offset)
        if len(data) != length:
            # pread may return short reads near EOF only when the object is truncated.
            raise ObjectMissingError(f"short read at {offset}: {len(data)} of {length} bytes")
        return data

    def close(self) -> None:
        os.close(self._fd)


class LocalObjectStore:
    """Objects as files under one root directory (mode 0600), written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        check_name(name)
        return self.root / name

    def create(self, name: str) -> ObjectWriter:
        return _LocalWriter(self._path(name))

    def open(self, name: str) -> ObjectReader:
        return _LocalReader(self._path(name))

    def size(self, name: str) -> int:
        try:
            return self._path(name).stat().st_size
        except FileNotFoundError as exc:
            raise ObjectMissingError(name) from exc

    def delete(self, name: str) -> None:
        path = self._path(name)
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".part").unlink(missing_ok=True)
        if path.parent != self.root:
            with contextlib.suppress(OSError):  # not empty: other objects of the video remain
                path.parent.rmdir()

    def list(self) -> Iterator[tuple[str, datetime]]:
        for path in self.root.rglob("*"):
            if path.is_file():
                name = path.relative_to(self.root).as_posix().removesuffix(".part")
                yield name, datetime.fromtimestamp(path.stat().st_mtime, UTC)
