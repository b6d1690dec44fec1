"""Bearer-token authentication: Ed25519-signed JWTs carrying scopes (DESIGN §7).

Tokens are minted with the platform's private key (by the dashboard, which alone holds it in
production; by ``prisme token`` and the test harness in development) and verified by every
service with the public keys from its settings.  The header's ``kid`` (the key's RFC 7638 JWK
thumbprint) names the key: a service trusts a *set* of keys, so during a rotation the new and
the previous key are both accepted, and a token signed by a key removed from the set is
refused.  Claims: ``iss`` and ``aud`` are ``prisme``, ``sub`` is the operator id (for the
audit trail), ``name`` is shown in the audit trail, ``scope`` is a space-separated list
(RFC 8693 style), ``exp`` and ``jti`` are required.  ``admin`` grants every scope.  A token
whose ``jti`` is in the revocation list (:mod:`prisme_chassis.revocations`, fed by a JetStream
key-value bucket) is refused.

Routes declare what they need as a parameter default::

    async def create(body: NewContract, who: Principal = require_scopes("contracts:write")): ...
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .errors import Forbidden, Unauthorized
from .keys import (
    ALGORITHM,
    AUDIENCE,
    ISSUER,
    public_keys,
)
from .revocations import RevocationList, TokenUsage

#: ``sub`` of the named tokens an admin creates on the dashboard (``integration:<jti>``)
INTEGRATION_PREFIX = "integration:"

ADMIN_SCOPE = "admin"
#: Clock skew tolerated between the minting host and the verifying service.
LEEWAY = timedelta(seconds=30)


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``sub`` is the operator id recorded in audit trails."""

    sub: str
    name: str | None
    scopes: frozenset[str]
    #: the token's id (integration tokens are revoked by it)
    jti: str | None = None

    def has(self, scope: str) -> bool:
        """True when the principal holds ``scope`` or ``admin``."""
        return ADMIN_SCOPE in self.scopes or scope in self.scopes


#: How many verified tokens an authenticator remembers (least recently used dropped first).
VERIFIED_CACHE_SIZE = 4096


class Authenticator:
    """Verifies platform tokens against the trusted public keys (by ``kid``) and the
    revocation list.

    A token whose signature and claims verified is remembered (by its exact text, with its
    expiry) so the next request with it skips the Ed25519 verification and the JSON decoding;
    expiry (with the same leeway) and the revocation list are still checked on every request,
    and the keys of an authenticator never change (a rotation restarts the service).
    """

    def __init__(self, public_pem: str, revocations: RevocationList | None = None) -> None:
        self._keys = public_keys(public_pem)
        self.revocations = revocations if revocations is not None else RevocationList()
        self.usage = TokenUsage()
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def verify(self, token: str) -> Principal:
        """Return the token's principal, or raise :class:`Unauthorized` (never says why in
        detail beyond expired/invalid/revoked, to avoid helping a forger)."""
        known = self._verified.get(token)
        if known is not None:
            principal, expires = known
            if time.time() > expires + LEEWAY.total_seconds():
                del self._verified[token]
                raise Unauthorized("token expired", error="invalid_token")
            if principal.jti is None or principal.jti in self.revocations:
                raise Unauthorized("token revoked", error="invalid_token")
            self._verified.move_to_end(token)
            if principal.sub.startswith(INTEGRATION_PREFIX):
                self.usage.record(principal.jti)
            return principal
        principal, expires = self._verify_signed(token)
        self._verified[token] = (principal, expires)
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal

    def _verify_signed(self, token: str) -> tuple[Principal, float]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("invalid token", error="invalid_token") from exc
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise Unauthorized("invalid token", error="invalid_token")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=LEEWAY,
                options={"require": ["exp", "iss", "aud", "sub", "jti"]},
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
        jti = claims.get("jti")
        if not isinstance(jti, str) or jti in self.revocations:
            raise Unauthorized("token revoked", error="invalid_token")
        if sub.startswith(INTEGRATION_PREFIX):
            self.usage.record(jti)
        name = claims.get("name")
        principal = Principal(
            sub=sub, name=name if isinstance(name, str) else None, scopes=scopes, jti=jti
        )
        return principal, float(claims["exp"])


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
