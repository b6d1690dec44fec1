"""Sealing small secrets at rest (TOTP seeds) with AES-256-GCM under the dashboard's key.

The key is derived (HKDF) from the dashboard's secret key for this one purpose; the operator id
is the associated data, so a sealed seed cannot be moved to another operator's row.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE = 12


class SealError(Exception):
    """A sealed value failed authentication (wrong key, tampered or moved)."""


def derive_key(secret_key: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        secret_key
    )


def seal(key: bytes, plaintext: bytes, owner: str) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, owner.encode())


def unseal(key: bytes, sealed: bytes, owner: str) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], owner.encode())
    except InvalidTag as exc:
        raise SealError("sealed value failed authentication") from exc
