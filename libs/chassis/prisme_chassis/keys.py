"""The platform's signing keys and token minting (DESIGN §7), apart from verification.

Ed25519 key pairs, their RFC 7638 thumbprint (the ``kid``), and :func:`mint_token`. Kept free
of FastAPI and NATS so that what only mints (``prisme up``, ``prisme token``, the dashboard's
issuer, scripts) stays light; :mod:`prisme_chassis.auth` verifies and re-exports these.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ISSUER = "prisme"
AUDIENCE = "prisme"
ALGORITHM = "EdDSA"


_PEM_BLOCK = re.compile(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.S)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def key_id(public_key: Ed25519PublicKey) -> str:
    """The key's RFC 7638 JWK thumbprint: the ``kid`` of every token it signs."""
    raw = public_key.public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )
    jwk = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw)}, separators=(",", ":"), sort_keys=True
    )
    return _b64url(hashlib.sha256(jwk.encode("ascii")).digest())


def public_keys(pem_text: str) -> dict[str, Ed25519PublicKey]:
    """Every Ed25519 public key in ``pem_text`` (one or more PEM blocks), by ``kid``."""
    keys: dict[str, Ed25519PublicKey] = {}
    for block in _PEM_BLOCK.findall(pem_text):
        key = serialization.load_pem_public_key(block.encode("ascii"))
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the platform keys must be Ed25519 public keys")
        keys[key_id(key)] = key
    if not keys:
        raise ValueError("no PEM public key found")
    return keys


def private_key_id(private_pem: str) -> str:
    return key_id(_load_private(private_pem).public_key())


def _load_private(private_pem: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the platform key must be an Ed25519 private key")
    return key


def generate_keypair() -> tuple[str, str]:
    """A fresh Ed25519 key pair as ``(private PEM (PKCS#8), public PEM (SPKI))``."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode("ascii")
    public_pem = (
        private.public_key()
        .public_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode("ascii")
    )
    return private_pem, public_pem


def mint_token(
    private_pem: str,
    *,
    sub: str,
    scopes: Sequence[str],
    name: str | None = None,
    ttl: timedelta = timedelta(hours=12),
    jti: str | None = None,
    now: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """Sign a token for ``sub`` with ``scopes``, valid for ``ttl`` (negative: already expired)."""
    if isinstance(scopes, str):
        raise TypeError("scopes must be a sequence of scope names, not a string")
    key = _load_private(private_pem)
    now = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": jti or str(uuid.uuid4()),
        "scope": " ".join(scopes),
        **(extra or {}),
    }
    if name is not None:
        claims["name"] = name
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": key_id(key.public_key())})
