"""Secrets at rest: AES-256-GCM sealing of repository passwords, hashes of credentials."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12


def seal(key: bytes, plaintext: str, context: str) -> bytes:
    """Encrypt ``plaintext``; ``context`` (e.g. the plan id) is bound as associated data so a
    sealed value cannot be moved to another row."""
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())


def unseal(key: bytes, sealed: bytes, context: str) -> str:
    return AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], context.encode()).decode()


def new_token() -> str:
    """A 256-bit token from the CSPRNG (enrolment tokens, agent credentials)."""
    return secrets.token_urlsafe(32)


def new_repository_password() -> str:
    return secrets.token_urlsafe(48)


def token_hash(token: str) -> bytes:
    """SHA-256 is enough for 256-bit random tokens (no dictionary to resist)."""
    return hashlib.sha256(token.encode()).digest()


def same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
