"""Chunked AES-256-GCM at rest: round trips, ranges, tamper/swap/truncation detection."""

from __future__ import annotations

import asyncio
import os
import random
import threading
from pathlib import Path
from typing import cast

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from prisme_chassis.sealing import Keyring
from prisme_video.crypto import (
    TAG_BYTES,
    ChunkCipher,
    DecryptionError,
    ObjectLayout,
    new_data_key,
    object_key,
    unwrap_key,
    wrap_key,
)
from prisme_video.sealed_objects import (
    DecryptingFile,
    SealedRef,
    SealedWriter,
    iter_range,
    read_object,
    stream_range,
)
from prisme_video.storage import LocalObjectStore, ObjectReader, ObjectStore

CHUNK = 1000


def _store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "objects")


def _put(store: LocalObjectStore, name: str, key: bytes, data: bytes, pieces: int = 7) -> SealedRef:
    writer = SealedWriter(store, name, key, chunk_size=CHUNK)
    step = max(1, len(data) // pieces)
    for i in range(0, len(data), step):
        writer.write(data[i : i + step])
    return writer.commit()


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK, 5 * CHUNK + 17])
def test_round_trip_and_layout(tmp_path: Path, size: int) -> None:
    store, key, data = _store(tmp_path), new_data_key(), os.urandom(size)
    ref = _put(store, "v/video", key, data)
    assert ref.size == size
    assert store.size("v/video") == ObjectLayout(size, CHUNK).sealed_size
    assert read_object(store, ref, key) == data


async def test_random_ranges_decrypt_only_what_they_need(tmp_path: Path) -> None:
    """Blocking and streamed (one chunk read ahead) reads give the same pieces."""
    store, key, data = _store(tmp_path), new_data_key(), os.urandom(7 * CHUNK + 123)
    ref = _put(store, "v/video", key, data)
    rng = random.Random(7)
    for _ in range(200):
        start = rng.randrange(len(data))
        end = rng.randrange(start, len(data))
        pieces = list(iter_range(store, ref, key, start, end))
        assert b"".join(pieces) == data[start : end + 1]
        assert len(pieces) == end // CHUNK - start // CHUNK + 1
        assert [p async for p in stream_range(store, ref, key, start, end)] == pieces


def test_ciphertext_does_not_contain_plaintext(tmp_path: Path) -> None:
    store, key = _store(tmp_path), new_data_key()
    data = b"PATIENT DUPONT Jean ne le 01/02/1960 " * 200
    _put(store, "v/video", key, data)
    raw = (tmp_path / "objects" / "v" / "video").read_bytes()
    assert b"PATIENT" not in raw
    assert data[:64] not in raw


def test_tampered_chunk_fails(tmp_path: Path) -> None:
    store, key, data = _store(tmp_path), new_data_key(), os.urandom(3 * CHUNK)
    ref = _put(store, "v/video", key, data)
    path = tmp_path / "objects" / "v" / "video"
    raw = bytearray(path.read_bytes())
    raw[CHUNK + TAG_BYTES + 5] ^= 1
    path.write_bytes(bytes(raw))
    assert b"".join(iter_range(store, ref, key, 0, CHUNK - 1)) == data[:CHUNK]
    with pytest.raises(DecryptionError):
        list(iter_range(store, ref, key, CHUNK, CHUNK + 10))


def test_swapped_chunks_fail(tmp_path: Path) -> None:
    store, key, data = _store(tmp_path), new_data_key(), os.urandom(3 * CHUNK)
    ref = _put(store, "v/video", key, data)
    path = tmp_path / "objects" / "v" / "video"
    raw = path.read_bytes()
    sealed = CHUNK + TAG_BYTES
    path.write_bytes(raw[sealed : 2 * sealed] + raw[:sealed] + raw[2 * sealed :])
    with pytest.raises(DecryptionError):
        list(iter_range(store, ref, key, 0, 10))


def test_chunk_moved_between_objects_fails(tmp_path: Path) -> None:
    store, key = _store(tmp_path), new_data_key()
    a = _put(store, "a/video", key, os.urandom(2 * CHUNK))
    _put(store, "b/video", key, os.urandom(2 * CHUNK))
    raw_b = (tmp_path / "objects" / "b" / "video").read_bytes()
    (tmp_path / "objects" / "a" / "video").write_bytes(raw_b)
    with pytest.raises(DecryptionError):
        list(iter_range(store, a, key, 0, 10))


def test_truncation_is_detected(tmp_path: Path) -> None:
    """Dropping the final chunk and claiming a shorter size fails: the final flag is in the AAD."""
    store, key, data = _store(tmp_path), new_data_key(), os.urandom(3 * CHUNK)
    ref = _put(store, "v/video", key, data)
    path = tmp_path / "objects" / "v" / "video"
    path.write_bytes(path.read_bytes()[: 2 * (CHUNK + TAG_BYTES)])
    shorter = SealedRef(ref.name, 2 * CHUNK, CHUNK, ref.nonce_prefix)
    with pytest.raises(DecryptionError):
        list(iter_range(store, shorter, key, CHUNK, 2 * CHUNK - 1))


def test_wrong_key_fails(tmp_path: Path) -> None:
    store = _store(tmp_path)
    ref = _put(store, "v/video", new_data_key(), os.urandom(100))
    with pytest.raises(DecryptionError):
        read_object(store, ref, new_data_key())


def test_key_wrapping_binds_the_owner() -> None:
    master, dek = Keyring(new_data_key()), new_data_key()
    wrapped = wrap_key(master, dek, "video-1")
    assert dek not in wrapped
    assert unwrap_key(master, wrapped, "video-1") == dek
    with pytest.raises(DecryptionError):
        unwrap_key(master, wrapped, "video-2")
    with pytest.raises(DecryptionError):
        unwrap_key(Keyring(new_data_key()), wrapped, "video-1")


def test_master_key_rotation_and_keys_wrapped_before_key_ids() -> None:
    old, new, dek = new_data_key(), new_data_key(), new_data_key()
    before = wrap_key(Keyring(old), dek, "video-1")
    rotated = Keyring(new, previous=[old])
    assert unwrap_key(rotated, before, "video-1") == dek
    assert rotated.sealed_with(wrap_key(rotated, dek, "video-2")) == rotated.current_id
    nonce = os.urandom(12)
    legacy = nonce + AESGCM(old).encrypt(nonce, dek, b"prisme-video/data-key/v1:video-3")
    assert unwrap_key(rotated, legacy, "video-3") == dek
    with pytest.raises(DecryptionError):
        unwrap_key(Keyring(new), legacy, "video-3")


def test_object_keys_differ_per_object() -> None:
    dek = new_data_key()
    assert object_key(dek, "x/video") != object_key(dek, "x/poster")
    cipher = ChunkCipher(object_key(dek, "x/video"), "x/video", b"\0\0\0\1")
    assert cipher.open(0, cipher.seal(0, b"abc", final=True), final=True) == b"abc"
    with pytest.raises(DecryptionError):
        cipher.open(0, cipher.seal(0, b"abc", final=True), final=False)


def test_rewrite_draws_a_new_nonce_prefix(tmp_path: Path) -> None:
    store, key = _store(tmp_path), new_data_key()
    first = _put(store, "v/video", key, b"a" * 50)
    second = _put(store, "v/video", key, b"a" * 50)
    assert first.nonce_prefix != second.nonce_prefix


def test_decrypting_file_seeks_like_a_file(tmp_path: Path) -> None:
    store, key, data = _store(tmp_path), new_data_key(), os.urandom(4 * CHUNK + 3)
    ref = _put(store, "v/video", key, data)
    with DecryptingFile(store, ref, key) as f:
        assert f.read(10) == data[:10]
        f.seek(-5, os.SEEK_END)
        assert f.read() == data[-5:]
        f.seek(CHUNK - 2)
        assert f.read(4) == data[CHUNK - 2 : CHUNK + 2]
        assert f.tell() == CHUNK + 2


def test_aborted_write_leaves_nothing(tmp_path: Path) -> None:
    store = _store(tmp_path)
    writer = SealedWriter(store, "v/video", new_data_key(), chunk_size=CHUNK)
    writer.write(os.urandom(3 * CHUNK))
    writer.abort()
    assert list((tmp_path / "objects" / "v").iterdir()) == []


@pytest.mark.parametrize("name", ["../x", "/abs", "a/../b", "", "a//b"])
def test_object_names_cannot_escape_the_root(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="invalid object name"):
        _store(tmp_path).create(name)


class _GatedStore:
    """A store whose reads of chunk 1 onwards wait for ``gate``; it records reads and closes."""

    def __init__(self, inner: LocalObjectStore) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.reading = threading.Event()
        self.events: list[str] = []
        self.closed = asyncio.Event()

    def open(self, name: str) -> ObjectReader:
        reader = self.inner.open(name)
        store = self

        class Reader:
            def read_at(self, offset: int, length: int) -> bytes:
                if offset > 0:
                    store.reading.set()
                    store.gate.wait(10)
                data = reader.read_at(offset, length)
                store.events.append("read")
                return data

            def close(self) -> None:
                store.events.append("close")
                store.closed.set()
                reader.close()

        return Reader()


async def test_an_abandoned_stream_closes_its_reader_after_the_read_ahead(
    tmp_path: Path,
) -> None:
    inner, key, data = _store(tmp_path), new_data_key(), os.urandom(3 * CHUNK)
    ref = _put(inner, "v/video", key, data)
    store = _GatedStore(inner)
    stream = stream_range(cast(ObjectStore, store), ref, key, 0, len(data) - 1)
    assert await anext(stream) == data[:CHUNK]
    await asyncio.to_thread(store.reading.wait, 10)  # chunk 1 is being read ahead
    await stream.aclose()  # the viewer hung up
    assert store.events == ["read"]  # the reader stays open while the thread reads it
    store.gate.set()
    await asyncio.wait_for(store.closed.wait(), 10)
    assert store.events == ["read", "read", "close"]
