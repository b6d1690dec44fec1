"""Link tokens, link passwords and viewer session cookies (V2, DESIGN §7).

Only hashes are stored: SHA-256 for the 256-bit token (a lookup key, unguessable by itself) and
Argon2id for the password (low entropy on purpose: a human types it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_BYTES = 32  # 256 bits from the OS CSPRNG (§7)
# No look-alike characters: the password is read and retyped by the practice's staff.
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # noqa: S105
PASSWORD_LENGTH = 14


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_password() -> str:
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


class PasswordHashing:
    """Argon2id with argon2-cffi's recommended parameters (lighter ones only in tests)."""

    def __init__(self, *, time_cost: int = 3, memory_kib: int = 64 * 1024) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False


@dataclass(frozen=True)
class SessionCookies:
    """Stateless viewer sessions: ``<link id>.<expiry>.<HMAC>``, valid for one link only.

    Revocation needs no session table: every request re-checks the link itself (V3).
    """

    key: bytes

    def issue(self, link_id: uuid.UUID, expires_at: datetime) -> str:
        payload = f"{link_id}.{int(expires_at.timestamp())}"
        return f"{payload}.{self._mac(payload)}"

    def valid_for(self, cookie: str | None, link_id: uuid.UUID, now: datetime) -> bool:
        if not cookie:
            return False
        payload, _, mac = cookie.rpartition(".")
        # Bytes, not str: compare_digest refuses non-ASCII str (a crafted cookie was a 500).
        given = mac.encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, self._mac(payload).encode()):
            return False
        cookie_link, _, expiry = payload.partition(".")
        return cookie_link == str(link_id) and expiry.isdigit() and int(expiry) > now.timestamp()

    def _mac(self, payload: str) -> str:
        return hmac.new(
            self.key, payload.encode("utf-8", "surrogateescape"), hashlib.sha256
        ).hexdigest()


def cookie_key(master_key: bytes) -> bytes:
    """A key for session cookies, derived from the master key so no second secret is needed."""
    return hmac.new(master_key, b"prisme-video/viewer-cookie/v1", hashlib.sha256).digest()
