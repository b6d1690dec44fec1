"""Bearer-token authentication: Ed25519-signed JWTs carrying scopes (DESIGN §7).

Tokens are minted with the platform's private key (by ``prisme up`` and the test harness) and
verified by every service with the public key from its settings.  Claims: ``iss`` and
``aud`` are ``prisme``, ``sub`` is the operator id (for the audit trail), ``name`` is shown
in the audit trail, ``scope`` is a space-separated list (RFC 8693 style), ``exp`` is
required.  ``admin`` grants every scope.

Routes declare what they need as a parameter default::

    async def create(body: NewContract, who: Principal = require_scopes("contracts:write")): ...
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .errors import Forbidden, Unauthorized

ISSUER = "prisme"
AUDIENCE = "prisme"
ALGORITHM = "EdDSA"
ADMIN_SCOPE = "admin"
#: Clock skew tolerated between the minting host and the verifying service.
LEEWAY = timedelta(seconds=30)


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
) -> str:
    """Sign a token for ``sub`` with ``scopes``, valid for ``ttl`` (negative: already expired)."""
    if isinstance(scopes, str):
        raise TypeError("scopes must be a sequence of scope names, not a string")
    key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the platform key must be an Ed25519 private key")
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": str(uuid.uuid4()),
        "scope": " ".join(scopes),
    }
    if name is not None:
        claims["name"] = name
    return jwt.encode(claims, key, algorithm=ALGORITHM)


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``sub`` is the operator id recorded in audit trails."""

    sub: str
    name: str | None
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        """True when the principal holds ``scope`` or ``admin``."""
        return ADMIN_SCOPE in self.scopes or scope in self.scopes


class Authenticator:
    """Verifies platform tokens against the platform's public key."""

    def __init__(self, public_pem: str) -> None:
        key = serialization.load_pem_public_key(public_pem.encode("ascii"))
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the platform key must be an Ed25519 public key")
        self._key = key

    def verify(self, token: str) -> Principal:
        """Return the token's principal, or raise :class:`Unauthorized` (never says why in
        detail beyond expired/invalid, to avoid helping a forger)."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=LEEWAY,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token expired", error="invalid_token") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("invalid token", error="invalid_token") from exc
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise Unauthorized("invalid token", error="invalid_token")
        raw_scopes = claims.get("scope", claims.get("scopes", ""))
        if isinstance(raw_scopes, str):
            scopes = frozenset(raw_scopes.split())
        elif isinstance(raw_scopes, list) and all(isinstance(s, str) for s in raw_scopes):
            scopes = frozenset(raw_scopes)
        else:
            raise Unauthorized("invalid token", error="invalid_token")
        name = claims.get("name")
        return Principal(sub=sub, name=name if isinstance(name, str) else None, scopes=scopes)


# auto_error=False: a missing header must become our 401 problem, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, bearerFormat="JWT", description="Platform JWT")
_Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _authenticator(request: Request) -> Authenticator:
    authenticator = getattr(request.app.state, "authenticator", None)
    if not isinstance(authenticator, Authenticator):
        raise RuntimeError("app.state.authenticator is not configured")
    return authenticator


async def authenticate(request: Request, credentials: _Credentials) -> Principal:
    """FastAPI dependency: the caller's principal, or a 401 problem."""
    if credentials is None or not credentials.credentials:
        raise Unauthorized("missing bearer token")
    principal = _authenticator(request).verify(credentials.credentials)
    request.state.principal = principal
    return principal


def _scope_checker(scopes: tuple[str, ...]) -> Callable[..., Awaitable[Principal]]:
    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        missing = [scope for scope in scopes if not principal.has(scope)]
        if missing:
            raise Forbidden("missing scope: " + " ".join(missing), required_scopes=missing)
        return principal

    return check


def require_scopes(*scopes: str) -> Any:
    """A ``Depends`` for a route parameter default: authenticated and holding every scope.

    Typed ``Any`` so that ``who: Principal = require_scopes("contracts:write")`` type-checks.
    """
    return Depends(_scope_checker(tuple(scopes)))


#: Any authenticated principal, whatever its scopes.
PrincipalDep = Annotated[Principal, Depends(authenticate)]
