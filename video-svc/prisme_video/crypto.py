"""Chunked AES-256-GCM for recordings at rest (V1: videos are health data).

A stored object is a sequence of sealed chunks, each ``ciphertext || 16-byte tag`` of a fixed-size
plaintext chunk (the last one may be shorter). Design choices:

- One random data key per video, wrapped (AES-256-GCM) by the master key from settings; only the
  wrapped form is stored, next to the metadata, never next to the ciphertext.
- Each object gets its own key, ``HKDF(data key, object name)``, so the poster and the recording
  of one video never share a key/nonce space.
- Nonce = 4-byte random per-object prefix || 8-byte chunk index: unique per chunk, and a rewrite
  of the same object name draws a new prefix.
- AAD = object name || chunk index || final flag: a chunk cannot be swapped between objects or
  positions, and truncating the object (dropping the final chunk) fails authentication.

Pure functions over bytes, no I/O: the storage layer and the service compose them.
"""

from __future__ import annotations

import contextlib
import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from prisme_chassis.sealing import Keyring, MalformedError, SealingError

KEY_BYTES = 32
TAG_BYTES = 16
PREFIX_BYTES = 4
DEFAULT_CHUNK_SIZE = 1024 * 1024
_INFO = b"prisme-video/object/v1:"
_WRAP_AAD = b"prisme-video/data-key/v1:"


class DecryptionError(Exception):
    """A sealed chunk or wrapped key failed authentication (tampered, swapped or truncated)."""


def new_data_key() -> bytes:
    return os.urandom(KEY_BYTES)


def new_nonce_prefix() -> bytes:
    return os.urandom(PREFIX_BYTES)


def wrap_key(keyring: Keyring, data_key: bytes, owner: str) -> bytes:
    """Wrap a video's data key with the current master key (the envelope names it, so the
    master key can be rotated); ``owner`` (the video id) is bound as associated data."""
    return keyring.seal(data_key, _WRAP_AAD + owner.encode())


def unwrap_key(keyring: Keyring, wrapped: bytes, owner: str) -> bytes:
    """Keys wrapped before key ids existed (``nonce || ciphertext``) still unwrap."""
    aad = _WRAP_AAD + owner.encode()
    try:
        if Keyring.is_envelope(wrapped):
            with contextlib.suppress(MalformedError):
                return keyring.open(wrapped, aad)
        return keyring.open_legacy(wrapped, aad)
    except SealingError as exc:
        raise DecryptionError(f"wrapped data key does not open: {exc}") from exc


def object_key(data_key: bytes, name: str) -> bytes:
    """The per-object key derived from the video's data key."""
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_INFO + name.encode()
    ).derive(data_key)


@dataclass(frozen=True)
class ObjectLayout:
    """Where the chunks of a sealed object of ``size`` plaintext bytes sit."""

    size: int
    chunk_size: int

    @property
    def chunk_count(self) -> int:
        # An empty object still has one (empty, final) chunk, so truncation is always detectable.
        return max(1, -(-self.size // self.chunk_size))

    @property
    def sealed_size(self) -> int:
        return self.size + self.chunk_count * TAG_BYTES

    def sealed_offset(self, index: int) -> int:
        return index * (self.chunk_size + TAG_BYTES)

    def plain_length(self, index: int) -> int:
        return min(self.chunk_size, self.size - index * self.chunk_size)

    def sealed_length(self, index: int) -> int:
        return self.plain_length(index) + TAG_BYTES

    def is_final(self, index: int) -> bool:
        return index == self.chunk_count - 1


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">Q", index)


def _aad(name: str, index: int, final: bool) -> bytes:
    return name.encode() + b"\x00" + struct.pack(">Q?", index, final)


class ChunkCipher:
    """Seals and opens the chunks of one object."""

    def __init__(self, key: bytes, name: str, prefix: bytes) -> None:
        self._aead = AESGCM(key)
        self.name = name
        self.prefix = prefix

    def seal(self, index: int, plaintext: bytes, *, final: bool) -> bytes:
        return self._aead.encrypt(
            _nonce(self.prefix, index), plaintext, _aad(self.name, index, final)
        )

    def open(self, index: int, sealed: bytes, *, final: bool) -> bytes:
        try:
            return self._aead.decrypt(
                _nonce(self.prefix, index), sealed, _aad(self.name, index, final)
            )
        except InvalidTag as exc:
            raise DecryptionError(f"chunk {index} of {self.name} failed authentication") from exc


class StreamSealer:
    """Encrypts a plaintext stream of unknown length into sealed chunks, in bounded memory.

    A full chunk is only sealed once more data proves it is not the final one, so at most
    ``2 × chunk_size`` bytes are buffered.
    """

    def __init__(self, cipher: ChunkCipher, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self._cipher = cipher
        self._chunk_size = chunk_size
        self._buffer = bytearray()
        self._index = 0
        self.size = 0
        self._finished = False

    def feed(self, data: bytes) -> list[bytes]:
        if self._finished:
            raise RuntimeError("sealer already finished")
        self._buffer += data
        self.size += len(data)
        sealed: list[bytes] = []
        while len(self._buffer) > self._chunk_size:
            chunk = bytes(self._buffer[: self._chunk_size])
            del self._buffer[: self._chunk_size]
            sealed.append(self._cipher.seal(self._index, chunk, final=False))
            self._index += 1
        return sealed

    def finish(self) -> bytes:
        self._finished = True
        last = self._cipher.seal(self._index, bytes(self._buffer), final=True)
        self._buffer.clear()
        return last


def seal_all(cipher: ChunkCipher, plaintext: bytes, chunk_size: int = DEFAULT_CHUNK_SIZE) -> bytes:
    """Seal a small object (e.g. a poster image) in one go."""
    sealer = StreamSealer(cipher, chunk_size)
    return b"".join([*sealer.feed(plaintext), sealer.finish()])
