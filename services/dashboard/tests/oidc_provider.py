"""A small local OpenID provider for the dashboard's tests (like the Graph and Stripe
sandboxes): discovery, JWKS, an authorize endpoint that signs in one configured person at
once, and a token endpoint checking the client secret and PKCE (S256)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from joserfc import jwt
from joserfc.jwk import RSAKey


@dataclass
class Provider:
    client_id: str
    client_secret: str
    person: dict[str, Any]
    url: str = ""
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    #: to test the dashboard's checks: an ID token naming another issuer, or another nonce
    token_issuer: str | None = None
    token_nonce: str | None = None
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    seen_challenges: list[str] = field(default_factory=list)


def create_app(provider: Provider) -> FastAPI:
    app = FastAPI()

    @app.get("/readyz")
    async def ready() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, Any]:
        return {
            "issuer": provider.url,
            "authorization_endpoint": provider.url + "/authorize",
            "token_endpoint": provider.url + "/token",
            "jwks_uri": provider.url + "/jwks",
            "response_types_supported": ["code"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    @app.get("/jwks")
    async def jwks() -> dict[str, Any]:
        return {"keys": [provider.key.as_dict(private=False)]}

    @app.get("/authorize")
    async def authorize(request: Request) -> RedirectResponse:
        q = request.query_params
        if q.get("client_id") != provider.client_id or q.get("response_type") != "code":
            raise HTTPException(400, "bad client or response type")
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            raise HTTPException(400, "PKCE S256 required")
        code = secrets.token_urlsafe(16)
        provider.codes[code] = {
            "nonce": q.get("nonce", ""),
            "challenge": q["code_challenge"],
            "redirect_uri": q.get("redirect_uri", ""),
        }
        provider.seen_challenges.append(q["code_challenge"])
        target = (
            q.get("redirect_uri", "") + "?" + urlencode({"code": code, "state": q.get("state", "")})
        )
        return RedirectResponse(target, status_code=302)

    @app.post("/token")
    async def token(
        request: Request,
        grant_type: str = Form(),
        code: str = Form(),
        redirect_uri: str = Form(),
        code_verifier: str = Form(),
        client_id: str | None = Form(default=None),
        client_secret: str | None = Form(default=None),
    ) -> dict[str, Any]:
        auth = request.headers.get("authorization", "")
        if auth.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        if (client_id, client_secret) != (provider.client_id, provider.client_secret):
            raise HTTPException(401, "bad client credentials")
        grant = provider.codes.pop(code, None)
        if grant_type != "authorization_code" or grant is None:
            raise HTTPException(400, "bad grant")
        digest = hashlib.sha256(code_verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if challenge != grant["challenge"] or redirect_uri != grant["redirect_uri"]:
            raise HTTPException(400, "PKCE or redirect_uri mismatch")
        now = int(time.time())
        claims = {
            "iss": provider.token_issuer or provider.url,
            "aud": provider.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": provider.token_nonce or grant["nonce"],
            **provider.person,
        }
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, provider.key)
        return {
            "access_token": secrets.token_urlsafe(16),
            "token_type": "Bearer",
            "id_token": id_token,
        }

    return app
