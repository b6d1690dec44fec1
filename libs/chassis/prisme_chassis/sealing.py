"""Secrets and documents at rest: AES-256-GCM envelopes that name their key.

Every sealed blob carries the id of the key that sealed it::

    b"PS1" | len(key id) (1 byte) | key id (ASCII) | nonce (12 bytes) | ciphertext || tag (16)

A :class:`Keyring` seals with its *current* key and opens with any key it knows, so a key is
rotated without re-encrypting first (see libs/README.md, "Sealing and key rotation"):

1. configure the new key as current and list the old one among the previous keys;
2. new blobs are sealed under the new key id at once; old ones still open;
3. optionally re-seal old rows (``Keyring.reseal``), then drop the old key.

The header is authenticated (it is part of the associated data) together with the caller's
``context`` (e.g. the row's id), so a blob cannot be moved to another row, and a changed key id,
nonce or byte of ciphertext fails with :class:`TamperedError`. A key id the keyring does not
know fails with :class:`UnknownKeyError` (the key was dropped too early, or the blob is not
ours). A key's id is a fingerprint of the key itself, so configuration cannot pair a key with
the wrong id.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
MAGIC = b"PS1"


class SealingError(Exception):
    """A sealed blob could not be opened."""


class TamperedError(SealingError):
    """Authentication failed: the blob, its key id or its context was changed."""


class UnknownKeyError(SealingError):
    """The blob names a key this keyring does not hold."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"sealed with unknown key id {key_id!r}")
        self.key_id = key_id


class MalformedError(SealingError):
    """Not a sealed envelope at all."""


def key_id(key: bytes) -> str:
    """The id of a key: ``k`` + 12 hex digits of a domain-separated SHA-256 of it."""
    return "k" + hashlib.sha256(b"prisme-sealing-key-id:" + key).hexdigest()[:12]


def decode_key(text: str, *, name: str = "key") -> bytes:
    """A 32-byte key from its base64 (standard or URL-safe, padding optional)."""
    value = text.strip()
    padded = value + "=" * (-len(value) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{name} is not base64") from exc
    if len(raw) != KEY_BYTES:
        raise ValueError(f"{name} must be {KEY_BYTES} bytes, base64-encoded")
    return raw


def decode_keys(text: str, *, name: str = "previous keys") -> list[bytes]:
    """Comma- or whitespace-separated base64 keys (the previous keys of a keyring)."""
    parts = text.replace(",", " ").split()
    return [decode_key(part, name=name) for part in parts]


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def _header(kid: str) -> bytes:
    raw = kid.encode("ascii")
    return MAGIC + bytes([len(raw)]) + raw


class Keyring:
    """The current key (used to seal) and every key still allowed to open."""

    def __init__(self, current: bytes, previous: Iterable[bytes] = ()) -> None:
        keys = [current, *previous]
        for key in keys:
            if len(key) != KEY_BYTES:
                raise ValueError(f"sealing keys are {KEY_BYTES} bytes")
        self.current_id = key_id(current)
        self._keys: Mapping[str, AESGCM] = {key_id(k): AESGCM(k) for k in reversed(keys)}

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def seal(self, plaintext: bytes, context: bytes = b"") -> bytes:
        """Encrypt under the current key; ``context`` must be given again to open."""
        header = _header(self.current_id)
        nonce = os.urandom(NONCE_BYTES)
        body = self._keys[self.current_id].encrypt(nonce, plaintext, header + nonce + context)
        return header + nonce + body

    def open(self, sealed: bytes, context: bytes = b"") -> bytes:
        kid, header, nonce, body = self._parse(sealed)
        aead = self._keys.get(kid)
        if aead is None:
            raise UnknownKeyError(kid)
        try:
            return aead.decrypt(nonce, body, header + nonce + context)
        except InvalidTag as exc:
            raise TamperedError("sealed blob failed authentication") from exc

    def seal_text(self, text: str, context: str = "") -> bytes:
        return self.seal(text.encode(), context.encode())

    def open_text(self, sealed: bytes, context: str = "") -> str:
        return self.open(sealed, context.encode()).decode()

    def sealed_with(self, sealed: bytes) -> str:
        """The key id a blob names (to find blobs still under an old key)."""
        return self._parse(sealed)[0]

    def reseal(self, sealed: bytes, context: bytes = b"") -> bytes:
        """The same plaintext under the current key (rotation); unchanged if already so."""
        if self.sealed_with(sealed) == self.current_id:
            return sealed
        return self.seal(self.open(sealed, context), context)

    def open_legacy(self, nonce_and_body: bytes, aad: bytes) -> bytes:
        """A blob written before envelopes (``nonce || ciphertext``, no key id): tried with each
        known key. Only for reading rows sealed before key ids existed, to re-seal them."""
        nonce, body = nonce_and_body[:NONCE_BYTES], nonce_and_body[NONCE_BYTES:]
        for aead in self._keys.values():
            try:
                return aead.decrypt(nonce, body, aad)
            except InvalidTag:
                continue
        raise TamperedError("legacy blob opens with none of the known keys")

    @staticmethod
    def is_envelope(blob: bytes) -> bool:
        return blob.startswith(MAGIC) and len(blob) > len(MAGIC) + 1

    @staticmethod
    def _parse(sealed: bytes) -> tuple[str, bytes, bytes, bytes]:
        if not sealed.startswith(MAGIC) or len(sealed) < len(MAGIC) + 1:
            raise MalformedError("not a sealed envelope")
        n = sealed[len(MAGIC)]
        start = len(MAGIC) + 1
        if len(sealed) < start + n + NONCE_BYTES + 16:
            raise MalformedError("sealed envelope is truncated")
        try:
            kid = sealed[start : start + n].decode("ascii")
        except UnicodeDecodeError as exc:
            raise MalformedError("sealed envelope has a bad key id") from exc
        header = sealed[: start + n]
        nonce = sealed[start + n : start + n + NONCE_BYTES]
        return kid, header, nonce, sealed[start + n + NONCE_BYTES :]


# --- files --------------------------------------------------------------------------------
#
# A sealed file is a sequence of frames, each ``length (4 bytes, big-endian) | envelope``; the
# envelope of chunk i is sealed with context ``context | i (8 bytes) | final (1 byte)``, so
# chunks cannot be reordered, moved to another file, or dropped from the end unnoticed.

FILE_CHUNK = 1024 * 1024


def _chunk_context(context: bytes, index: int, final: bool) -> bytes:
    return context + b"|" + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


class SealedFileWriter:
    """Writes a sealed file chunk by chunk (blocking: call from a worker thread). Written to
    ``path.partial`` (mode 0600) and renamed on :meth:`close`, so a crash leaves no half file
    under the final name."""

    def __init__(
        self, keyring: Keyring, path: Path, context: bytes, chunk_size: int = FILE_CHUNK
    ) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        self._keyring = keyring
        self._context = context
        self._chunk = chunk_size
        self._buffer = bytearray()
        self._index = 0
        self.size = 0
        fd = os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._out = os.fdopen(fd, "wb")

    def _frame(self, data: bytes, final: bool) -> None:
        sealed = self._keyring.seal(data, _chunk_context(self._context, self._index, final))
        self._out.write(len(sealed).to_bytes(4, "big") + sealed)
        self._index += 1

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.size += len(data)
        while len(self._buffer) > self._chunk:
            self._frame(bytes(self._buffer[: self._chunk]), final=False)
            del self._buffer[: self._chunk]

    def close(self) -> int:
        """Seal the last chunk, flush to disk, rename into place; the plaintext size."""
        self._frame(bytes(self._buffer), final=True)
        self._buffer.clear()
        self._out.flush()
        os.fsync(self._out.fileno())
        self._out.close()
        os.replace(self.partial, self.path)
        return self.size

    def abort(self) -> None:
        self._out.close()
        with contextlib.suppress(FileNotFoundError):
            self.partial.unlink()


def read_sealed_file(keyring: Keyring, path: Path, context: bytes) -> Iterator[bytes]:
    """The plaintext of a sealed file, one chunk at a time (blocking)."""
    with path.open("rb") as src:
        index = 0
        while True:
            head = src.read(4)
            if len(head) < 4:
                raise TamperedError("sealed file ends before its final chunk")
            frame = src.read(int.from_bytes(head, "big"))
            try:
                yield keyring.open(frame, _chunk_context(context, index, final=False))
            except TamperedError:
                last = keyring.open(frame, _chunk_context(context, index, final=True))
                if src.read(1):
                    raise TamperedError("data after the final chunk") from None
                yield last
                return
            index += 1
