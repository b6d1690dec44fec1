"""Sealing with key ids: round trip, rotation, tampering, unknown keys."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prisme_chassis.sealing import (
    Keyring,
    MalformedError,
    SealedFileWriter,
    TamperedError,
    UnknownKeyError,
    decode_key,
    decode_keys,
    key_id,
    new_key,
    read_sealed_file,
)

OLD, NEW = new_key(), new_key()


@given(st.binary(max_size=4096), st.binary(max_size=64))
def test_round_trip(plaintext: bytes, context: bytes) -> None:
    ring = Keyring(OLD)
    sealed = ring.seal(plaintext, context)
    assert len(plaintext) < 16 or plaintext not in sealed
    assert ring.open(sealed, context) == plaintext
    assert ring.sealed_with(sealed) == key_id(OLD)


def test_text_round_trip_and_two_seals_differ() -> None:
    ring = Keyring(OLD)
    a, b = ring.seal_text("mot de passe", "acc-1"), ring.seal_text("mot de passe", "acc-1")
    assert a != b  # fresh nonce each time
    assert ring.open_text(a, "acc-1") == ring.open_text(b, "acc-1") == "mot de passe"


def test_rotation_old_key_still_opens_new_writes_use_the_new_id() -> None:
    before = Keyring(OLD).seal(b"written before rotation", b"row-1")
    rotated = Keyring(NEW, previous=[OLD])
    assert rotated.current_id == key_id(NEW)
    assert rotated.key_ids == {key_id(NEW), key_id(OLD)}
    assert rotated.open(before, b"row-1") == b"written before rotation"
    after = rotated.seal(b"written after", b"row-2")
    assert rotated.sealed_with(after) == key_id(NEW)
    resealed = rotated.reseal(before, b"row-1")
    assert rotated.sealed_with(resealed) == key_id(NEW)
    assert Keyring(NEW).open(resealed, b"row-1") == b"written before rotation"
    assert rotated.reseal(after, b"row-2") is after


def test_dropped_key_is_an_unknown_key_id() -> None:
    before = Keyring(OLD).seal(b"x")
    with pytest.raises(UnknownKeyError) as caught:
        Keyring(NEW).open(before)
    assert caught.value.key_id == key_id(OLD)


@pytest.mark.parametrize("position", ["key id", "nonce", "body", "tag"])
def test_any_changed_byte_is_detected(position: str) -> None:
    ring = Keyring(OLD, previous=[NEW])
    sealed = bytearray(ring.seal(b"secret payload", b"ctx"))
    index = {"key id": 5, "nonce": 4 + len(key_id(OLD)) + 1, "body": -20, "tag": -1}[position]
    sealed[index] ^= 0x01
    with pytest.raises((TamperedError, UnknownKeyError)):
        ring.open(bytes(sealed), b"ctx")


def test_context_is_bound() -> None:
    ring = Keyring(OLD)
    sealed = ring.seal(b"secret", b"row-1")
    with pytest.raises(TamperedError):
        ring.open(sealed, b"row-2")


def test_a_key_id_rewritten_to_another_known_key_fails() -> None:
    ring = Keyring(NEW, previous=[OLD])
    sealed = ring.seal(b"secret")
    swapped = sealed.replace(key_id(NEW).encode(), key_id(OLD).encode(), 1)
    with pytest.raises(TamperedError):
        ring.open(swapped)


def test_not_an_envelope() -> None:
    ring = Keyring(OLD)
    for blob in (b"", b"PS1", b"plain text document", b"PS1\x05abc"):
        with pytest.raises(MalformedError):
            ring.open(blob)
    assert not Keyring.is_envelope(b"%PDF-1.7")
    assert Keyring.is_envelope(ring.seal(b"x"))


def test_keys_from_configuration() -> None:
    text = base64.b64encode(OLD).decode()
    urlsafe = base64.urlsafe_b64encode(NEW).decode().rstrip("=")
    assert decode_key(text) == OLD
    assert decode_keys(f"{text}, {urlsafe}") == [OLD, NEW]
    assert decode_keys("") == []
    with pytest.raises(ValueError, match="32 bytes"):
        decode_key(base64.b64encode(b"short").decode())
    with pytest.raises(ValueError, match="base64"):
        decode_key("not base64 !")
    with pytest.raises(ValueError, match="32 bytes"):
        Keyring(b"short")


def _write(ring: Keyring, path: Path, data: bytes, chunk: int) -> None:
    writer = SealedFileWriter(ring, path, b"export-1", chunk_size=chunk)
    for i in range(0, len(data), 7):
        writer.write(data[i : i + 7])
    assert writer.close() == len(data)


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 1000])
def test_sealed_file_round_trip(tmp_path: Path, size: int) -> None:
    ring = Keyring(OLD)
    data = os.urandom(size)
    path = tmp_path / "a.tar.sealed"
    _write(ring, path, data, chunk=64)
    assert not path.with_name(path.name + ".partial").exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"".join(read_sealed_file(ring, path, b"export-1")) == data
    assert b"".join(read_sealed_file(Keyring(NEW, [OLD]), path, b"export-1")) == data
    with pytest.raises(TamperedError):
        b"".join(read_sealed_file(ring, path, b"export-2"))


def test_sealed_file_truncated_or_reordered_is_refused(tmp_path: Path) -> None:
    ring = Keyring(OLD)
    path = tmp_path / "a.sealed"
    _write(ring, path, os.urandom(300), chunk=64)
    raw = path.read_bytes()
    frames, at = [], 0
    while at < len(raw):
        n = int.from_bytes(raw[at : at + 4], "big")
        frames.append(raw[at : at + 4 + n])
        at += 4 + n
    assert len(frames) == 5
    for broken in (b"".join(frames[:-1]), b"".join([frames[1], frames[0], *frames[2:]])):
        path.write_bytes(broken)
        with pytest.raises(TamperedError):
            b"".join(read_sealed_file(ring, path, b"export-1"))
