"""Credentials the backup service hands out: enrolment tokens, agent credentials, repository
passwords. Only hashes of tokens are stored; repository passwords are sealed (``sealed``)."""

from __future__ import annotations

import hashlib
import hmac
import secrets


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
