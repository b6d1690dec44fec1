"""OpenID Connect sign-in (DESIGN §7), e.g. Microsoft Entra ID, with Authlib.

Authorization code flow with PKCE (S256), a ``state`` and a ``nonce`` kept in a short-lived
signed cookie; the ID token is checked against the provider's JWKS with the **pinned** issuer,
our client id as audience, the nonce and the expiry.  The IdP's ``groups`` claim is mapped to
roles by ``PRISME_DASHBOARD_OIDC_GROUP_ROLES``; a person in no mapped group is refused.  The
operator is found by (issuer, subject), created on first sign-in, and their roles follow the
groups at every sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from prisme_chassis import audit
from prisme_chassis.audit import Actor

from . import repository as repo
from .operators import Operator, normalise_email
from .roles import is_role

FLOW_SECONDS = 600


class OidcRefused(Exception):
    """The provider's answer cannot sign anyone in (the reason is for the log, not the page)."""


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    group_roles: dict[str, str]
    label: str


@dataclass(frozen=True)
class Flow:
    state: str
    nonce: str
    verifier: str


def new_flow() -> Flow:
    return Flow(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        verifier=secrets.token_urlsafe(48),
    )


def pack_flow(key: bytes, flow: Flow) -> str:
    body = json.dumps(
        {"s": flow.state, "n": flow.nonce, "v": flow.verifier, "e": int(time.time()) + FLOW_SECONDS}
    ).encode()
    mac = hmac.new(key, body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac + body).decode()


def unpack_flow(key: bytes, cookie: str | None) -> Flow | None:
    if not cookie:
        return None
    try:
        raw = base64.urlsafe_b64decode(cookie.encode())
        mac, body = raw[:32], raw[32:]
        if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()):
            return None
        data = json.loads(body)
    except (ValueError, TypeError):
        return None
    if int(data["e"]) < time.time():
        return None
    return Flow(state=data["s"], nonce=data["n"], verifier=data["v"])


async def discover(http: httpx.AsyncClient, issuer: str) -> dict[str, Any]:
    response = await http.get(issuer.rstrip("/") + "/.well-known/openid-configuration")
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    if document.get("issuer") != issuer:
        raise OidcRefused(f"discovery names issuer {document.get('issuer')!r}, not {issuer!r}")
    return document


def _client(config: OidcConfig, redirect_uri: str) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=config.client_id,
        client_secret=config.client_secret,
        scope="openid profile email",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=10,
    )


async def authorization_url(config: OidcConfig, redirect_uri: str, flow: Flow) -> str:
    async with httpx.AsyncClient(timeout=10) as http:
        document = await discover(http, config.issuer)
    async with _client(config, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            document["authorization_endpoint"],
            state=flow.state,
            code_verifier=flow.verifier,
            nonce=flow.nonce,
        )
    return str(url)


async def identity(
    config: OidcConfig, redirect_uri: str, flow: Flow, *, code: str, state: str
) -> dict[str, Any]:
    """Exchange the code (PKCE) and return the ID token's checked claims."""
    if not hmac.compare_digest(state.encode(), flow.state.encode()):
        raise OidcRefused("state mismatch")
    async with httpx.AsyncClient(timeout=10) as http:
        document = await discover(http, config.issuer)
        jwks = (await http.get(document["jwks_uri"])).json()
    async with _client(config, redirect_uri) as client:
        token = await client.fetch_token(
            document["token_endpoint"], code=code, code_verifier=flow.verifier
        )
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise OidcRefused("no id_token in the token response")
    try:
        decoded = jwt.decode(id_token, KeySet.import_key_set(jwks))
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": config.issuer},
            aud={"essential": True, "value": config.client_id},
            nonce={"essential": True, "value": flow.nonce},
            sub={"essential": True},
            exp={"essential": True},
        ).validate(decoded.claims)
    except (JoseError, ValueError) as exc:
        raise OidcRefused(f"id_token refused: {exc}") from exc
    return dict(decoded.claims)


def roles_from_groups(config: OidcConfig, groups: object) -> list[str]:
    """The roles the IdP groups map to (unknown groups and roles ignored)."""
    if not isinstance(groups, list):
        return []
    mapped = {config.group_roles.get(g) for g in groups if isinstance(g, str)}
    return sorted(role for role in mapped if role is not None and is_role(role))


async def operator_for(
    conn: asyncpg.Connection, config: OidcConfig, claims: dict[str, Any], actor: Actor
) -> Operator:
    """The operator of these claims, created or with roles brought up to date."""
    roles = roles_from_groups(config, claims.get("groups"))
    if not roles:
        raise OidcRefused("no group of this person is mapped to a role")
    subject = str(claims["sub"])
    email = normalise_email(
        str(claims.get("email") or claims.get("preferred_username") or f"{subject}@oidc.invalid")
    )
    name = str(claims.get("name") or email)
    row = await repo.find_operator_by_oidc(conn, config.issuer, subject)
    if row is None:
        row = await repo.insert_operator(
            conn,
            operator_id=uuid.uuid4(),
            email=email,
            name=name,
            roles=roles,
            password_hash=None,
            must_change_password=False,
            oidc_issuer=config.issuer,
            oidc_subject=subject,
        )
        await audit.record(
            conn,
            actor,
            "operator.created",
            target_type="operator",
            target_id=row["id"],
            detail={"email": email, "roles": ",".join(roles), "via": "oidc"},
        )
    elif list(row["roles"]) != roles or row["name"] != name:
        row = await repo.update_operator(conn, row["id"], roles=roles, name=name)
    operator = Operator.from_row(row)
    if operator.status != "active":
        raise OidcRefused("this operator is disabled")
    return operator
