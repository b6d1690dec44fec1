"""Encrypted objects on an :class:`ObjectStore`: streaming writes, range reads, a seekable view.

Range reads open only the chunks that overlap the range (V1, P3); memory stays at one chunk
whatever the object's size.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass

from .crypto import (
    DEFAULT_CHUNK_SIZE,
    ChunkCipher,
    ObjectLayout,
    StreamSealer,
    new_nonce_prefix,
    object_key,
)
from .storage import ObjectReader, ObjectStore, ObjectWriter


@dataclass(frozen=True)
class SealedRef:
    """What it takes to read a sealed object back (stored in the database, no key material)."""

    name: str
    size: int
    chunk_size: int
    nonce_prefix: bytes

    @property
    def layout(self) -> ObjectLayout:
        return ObjectLayout(self.size, self.chunk_size)


def _cipher(data_key: bytes, name: str, prefix: bytes) -> ChunkCipher:
    return ChunkCipher(object_key(data_key, name), name, prefix)


class SealedWriter:
    """Encrypts bytes into a new object as they come (blocking; call from a worker thread)."""

    def __init__(
        self, store: ObjectStore, name: str, data_key: bytes, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> None:
        self.name = name
        self.chunk_size = chunk_size
        self.prefix = new_nonce_prefix()
        self._sealer = StreamSealer(_cipher(data_key, name, self.prefix), chunk_size)
        self._writer: ObjectWriter = store.create(name)

    @property
    def size(self) -> int:
        return self._sealer.size

    def write(self, data: bytes) -> None:
        for sealed in self._sealer.feed(data):
            self._writer.write(sealed)

    def commit(self) -> SealedRef:
        self._writer.write(self._sealer.finish())
        self._writer.commit()
        return SealedRef(self.name, self._sealer.size, self.chunk_size, self.prefix)

    def abort(self) -> None:
        self._writer.abort()


def put_object(store: ObjectStore, name: str, data_key: bytes, data: bytes) -> SealedRef:
    writer = SealedWriter(store, name, data_key)
    try:
        writer.write(data)
        return writer.commit()
    except BaseException:
        writer.abort()
        raise


class _ChunkSource:
    def __init__(self, store: ObjectStore, ref: SealedRef, data_key: bytes) -> None:
        self.ref = ref
        self.layout = ref.layout
        self._cipher = _cipher(data_key, ref.name, ref.nonce_prefix)
        self._reader: ObjectReader = store.open(ref.name)

    def chunk(self, index: int) -> bytes:
        layout = self.layout
        sealed = self._reader.read_at(layout.sealed_offset(index), layout.sealed_length(index))
        return self._cipher.open(index, sealed, final=layout.is_final(index))

    def close(self) -> None:
        self._reader.close()


def iter_range(
    store: ObjectStore, ref: SealedRef, data_key: bytes, start: int, end: int
) -> Iterator[bytes]:
    """Plaintext bytes ``start..end`` (inclusive), one decrypted chunk at a time (blocking)."""
    source = _ChunkSource(store, ref, data_key)
    try:
        size = ref.chunk_size
        for index in range(start // size, end // size + 1):
            plain = source.chunk(index)
            base = index * size
            yield plain[max(start - base, 0) : end - base + 1]
    finally:
        source.close()


async def stream_range(
    store: ObjectStore, ref: SealedRef, data_key: bytes, start: int, end: int
) -> AsyncGenerator[bytes, None]:
    """Async version of :func:`iter_range`: each read + decrypt runs in a worker thread, one
    chunk ahead of the one being sent (P3), so the next chunk is opened while the socket
    drains the current one. Memory stays at two chunks per stream."""
    source = await asyncio.to_thread(_ChunkSource, store, ref, data_key)
    size = ref.chunk_size
    indices = range(start // size, end // size + 1)
    inflight: asyncio.Future[bytes] | None = None
    try:
        for position, index in enumerate(indices):
            if inflight is None:
                inflight = _read(source, index)
            # shielded: a cancelled stream leaves the thread's read to finish (see finally)
            plain = await asyncio.shield(inflight)
            inflight = _read(source, index + 1) if position + 1 < len(indices) else None
            base = index * size
            first, last = max(start - base, 0), end - base + 1
            yield plain if first == 0 and last >= len(plain) else plain[first:last]
    finally:
        # Not awaited: a cancelled response (client gone) must still release the reader, but
        # only once no thread reads from it any more.
        if inflight is None or inflight.done():
            _drop(inflight, source)
        else:
            inflight.add_done_callback(lambda done: _drop(done, source))


def _read(source: _ChunkSource, index: int) -> asyncio.Future[bytes]:
    return asyncio.get_running_loop().run_in_executor(None, source.chunk, index)


def _drop(done: asyncio.Future[bytes] | None, source: _ChunkSource) -> None:
    """The end of a stream: a read nobody will send has its result or error dropped."""
    if done is not None and not done.cancelled():
        done.exception()
    source.close()


def read_object(store: ObjectStore, ref: SealedRef, data_key: bytes) -> bytes:
    if ref.size == 0:
        return b""
    return b"".join(iter_range(store, ref, data_key, 0, ref.size - 1))


class DecryptingFile(io.RawIOBase):
    """A read-only, seekable file over a sealed object, for PyAV's probe (blocking)."""

    def __init__(self, store: ObjectStore, ref: SealedRef, data_key: bytes) -> None:
        super().__init__()
        self._source = _ChunkSource(store, ref, data_key)
        self._size = ref.size
        self._pos = 0
        self._cached_index = -1
        self._cached = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self._pos = offset
        elif whence == io.SEEK_CUR:
            self._pos += offset
        elif whence == io.SEEK_END:
            self._pos = self._size + offset
        else:
            raise ValueError(f"bad whence {whence}")
        self._pos = max(self._pos, 0)
        return self._pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        size = self._source.ref.chunk_size
        filled = 0
        while filled < len(buffer) and self._pos < self._size:
            index = self._pos // size
            if index != self._cached_index:
                self._cached = self._source.chunk(index)
                self._cached_index = index
            offset = self._pos - index * size
            piece = self._cached[offset : offset + len(buffer) - filled]
            buffer[filled : filled + len(piece)] = piece
            filled += len(piece)
            self._pos += len(piece)
        return filled

    def close(self) -> None:
        if not self.closed:
            self._source.close()
        super().close()
