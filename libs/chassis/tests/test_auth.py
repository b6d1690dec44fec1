"""Bearer auth on a real FastAPI app: 401 for missing/expired/forged tokens, 403 for scopes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from prisme_chassis.auth import LEEWAY, Authenticator, Principal, PrincipalDep, require_scopes
from prisme_chassis.errors import Unauthorized
from prisme_chassis.http import install_problem_handlers
from prisme_chassis.keys import generate_keypair, key_id, mint_token, private_key_id, public_keys

PRIVATE_PEM, PUBLIC_PEM = generate_keypair()
OTHER_PRIVATE_PEM, _ = generate_keypair()


def build_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.authenticator = Authenticator(PUBLIC_PEM)

    @app.post("/v1/contracts")
    async def write(who: Principal = require_scopes("contracts:write")) -> dict[str, Any]:
        return {"sub": who.sub, "name": who.name, "scopes": sorted(who.scopes)}

    @app.get("/v1/both")
    async def both(
        who: Principal = require_scopes("contracts:read", "billing:read"),
    ) -> dict[str, str]:
        return {"sub": who.sub}

    @app.get("/v1/me")
    async def me(who: PrincipalDep) -> dict[str, str]:
        return {"sub": who.sub}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def raw_token(
    claims: dict[str, Any], key_pem: str = PRIVATE_PEM, alg: str = "EdDSA", kid: str | None = ""
) -> str:
    """A token signed by hand; ``kid`` defaults to the signing key's, None leaves it out."""
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    headers = {"kid": private_key_id(key_pem) if kid == "" else kid} if kid is not None else None
    return jwt.encode(claims, key, algorithm=alg, headers=headers)  # type: ignore[arg-type]


def good_claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": "prisme",
        "aud": "prisme",
        "sub": "op-alice",
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "jti": "4f1c2a9e-0000-4000-8000-000000000001",
        "scope": "contracts:write",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["type"] == "https://prisme.example/problems/unauthorized"
    assert body["status"] == 401
    assert body["instance"] == response.request.url.path


async def test_valid_token_with_scope(client: httpx.AsyncClient) -> None:
    token = mint_token(PRIVATE_PEM, sub="op-alice", scopes=["contracts:write"], name="Alice")
    response = await client.post("/v1/contracts", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"sub": "op-alice", "name": "Alice", "scopes": ["contracts:write"]}


async def test_missing_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/contracts")
    assert_401(response)
    assert response.headers["www-authenticate"] == 'Bearer realm="prisme"'


@pytest.mark.parametrize("header", ["Basic b3A6cHc=", "Bearer", "Bearer ", "token abc"])
async def test_malformed_authorization_header(client: httpx.AsyncClient, header: str) -> None:
    assert_401(await client.post("/v1/contracts", headers={"Authorization": header}))


async def test_expired_token(client: httpx.AsyncClient) -> None:
    token = mint_token(PRIVATE_PEM, sub="op-alice", scopes=["admin"], ttl=timedelta(minutes=-5))
    response = await client.post("/v1/contracts", headers=bearer(token))
    assert_401(response)
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.json()["detail"] == "token expired"


async def test_token_signed_by_another_key(client: httpx.AsyncClient) -> None:
    token = mint_token(OTHER_PRIVATE_PEM, sub="op-mallory", scopes=["admin"])
    response = await client.post("/v1/contracts", headers=bearer(token))
    assert_401(response)
    assert response.json()["detail"] == "invalid token"


async def test_tampered_payload(client: httpx.AsyncClient) -> None:
    token = mint_token(PRIVATE_PEM, sub="op-bob", scopes=["contracts:read"])
    header, _payload, signature = token.split(".")
    forged = base64.urlsafe_b64encode(
        json.dumps(good_claims(sub="op-bob", scope="admin")).encode()
    ).rstrip(b"=")
    response = await client.post(
        "/v1/contracts", headers=bearer(f"{header}.{forged.decode()}.{signature}")
    )
    assert_401(response)


async def test_unsigned_token(client: httpx.AsyncClient) -> None:
    token = jwt.encode(good_claims(scope="admin"), None, algorithm="none")  # type: ignore[arg-type]
    assert_401(await client.post("/v1/contracts", headers=bearer(token)))


async def test_hmac_with_public_key_as_secret(client: httpx.AsyncClient) -> None:
    # algorithm confusion: HS256 keyed with the (public) PEM text must not pass
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(good_claims(scope="admin")).encode()).rstrip(b"=")
    signing_input = header + b"." + payload
    sig = hmac.new(PUBLIC_PEM.encode(), signing_input, hashlib.sha256).digest()
    token = (signing_input + b"." + base64.urlsafe_b64encode(sig).rstrip(b"=")).decode()
    assert_401(await client.post("/v1/contracts", headers=bearer(token)))


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "someone-else"},
        {"aud": "another-platform"},
        {"exp": None},
        {"sub": None},
        {"sub": ""},
        {"scope": 42},
        {"jti": None},
    ],
    ids=["wrong-issuer", "wrong-audience", "no-exp", "no-sub", "empty-sub", "bad-scope", "no-jti"],
)
async def test_invalid_claims(client: httpx.AsyncClient, overrides: dict[str, Any]) -> None:
    token = raw_token(good_claims(**overrides))
    assert_401(await client.post("/v1/contracts", headers=bearer(token)))


async def test_missing_scope_is_403(client: httpx.AsyncClient) -> None:
    token = mint_token(PRIVATE_PEM, sub="op-carol", scopes=["contracts:read", "billing:write"])
    response = await client.post("/v1/contracts", headers=bearer(token))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "https://prisme.example/problems/forbidden"
    assert body["required_scopes"] == ["contracts:write"]


async def test_all_listed_scopes_are_required(client: httpx.AsyncClient) -> None:
    partial = mint_token(PRIVATE_PEM, sub="op-dan", scopes=["contracts:read"])
    response = await client.get("/v1/both", headers=bearer(partial))
    assert response.status_code == 403
    assert response.json()["required_scopes"] == ["billing:read"]
    full = mint_token(PRIVATE_PEM, sub="op-dan", scopes=["contracts:read", "billing:read"])
    assert (await client.get("/v1/both", headers=bearer(full))).status_code == 200


async def test_admin_grants_every_scope(client: httpx.AsyncClient) -> None:
    token = mint_token(PRIVATE_PEM, sub="op-root", scopes=["admin"])
    assert (await client.post("/v1/contracts", headers=bearer(token))).status_code == 200
    assert (await client.get("/v1/both", headers=bearer(token))).status_code == 200


async def test_principal_dep_needs_only_a_valid_token(client: httpx.AsyncClient) -> None:
    token = mint_token(PRIVATE_PEM, sub="op-eve", scopes=[])
    response = await client.get("/v1/me", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"sub": "op-eve"}
    assert_401(await client.get("/v1/me"))


async def test_scopes_list_claim_is_accepted() -> None:
    token = raw_token(good_claims(scope=None, scopes=["videos:read"]))
    principal = Authenticator(PUBLIC_PEM).verify(token)
    assert principal.scopes == frozenset({"videos:read"})
    assert principal.name is None


def test_verify_raises_unauthorized_directly() -> None:
    with pytest.raises(Unauthorized):
        Authenticator(PUBLIC_PEM).verify("not-a-jwt")


def test_principal_has() -> None:
    assert Principal("a", None, frozenset({"admin"})).has("backups:write")
    assert Principal("a", None, frozenset({"backups:read"})).has("backups:read")
    assert not Principal("a", None, frozenset({"backups:read"})).has("backups:write")


def test_mint_refuses_a_string_of_scopes() -> None:
    with pytest.raises(TypeError):
        mint_token(PRIVATE_PEM, sub="x", scopes="admin")


def test_keys_must_be_ed25519() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_public = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(ValueError, match="Ed25519"):
        Authenticator(ec_public.decode())
    ec_private = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="Ed25519"):
        mint_token(ec_private.decode(), sub="x", scopes=["admin"])


async def test_openapi_declares_bearer_security() -> None:
    schema = build_app().openapi()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert schema["paths"]["/v1/contracts"]["post"]["security"] == [{"HTTPBearer": []}]


def test_the_kid_names_the_signing_key() -> None:
    token = mint_token(PRIVATE_PEM, sub="op-alice", scopes=["admin"])
    kid = jwt.get_unverified_header(token)["kid"]
    assert kid == private_key_id(PRIVATE_PEM)
    assert list(public_keys(PUBLIC_PEM)) == [kid]
    assert kid == key_id(next(iter(public_keys(PUBLIC_PEM).values())))


def test_a_token_without_kid_or_with_an_unknown_kid_is_refused() -> None:
    authenticator = Authenticator(PUBLIC_PEM)
    for kid in (None, "not-a-known-key"):
        with pytest.raises(Unauthorized):
            authenticator.verify(raw_token(good_claims(), kid=kid))


def test_rotation_accepts_the_previous_key_during_the_overlap_only() -> None:
    new_private, new_public = generate_keypair()
    old_token = mint_token(PRIVATE_PEM, sub="op-alice", scopes=["admin"])
    new_token = mint_token(new_private, sub="op-alice", scopes=["admin"])
    # during the overlap the services trust both keys (two PEM blocks in one setting)
    overlap = Authenticator(new_public + PUBLIC_PEM)
    assert overlap.key_ids == {private_key_id(new_private), private_key_id(PRIVATE_PEM)}
    assert overlap.verify(old_token).sub == "op-alice"
    assert overlap.verify(new_token).sub == "op-alice"
    # after it, the previous key is gone from the set: its tokens are refused
    after = Authenticator(new_public)
    assert after.verify(new_token).sub == "op-alice"
    with pytest.raises(Unauthorized, match="invalid token"):
        after.verify(old_token)


def test_a_revoked_token_is_refused() -> None:
    authenticator = Authenticator(PUBLIC_PEM)
    token = mint_token(PRIVATE_PEM, sub="integration:erp", scopes=["billing:read"], jti="t-1")
    assert authenticator.verify(token).jti == "t-1"
    authenticator.revocations.add("t-1", (datetime.now(UTC) + timedelta(days=1)).timestamp())
    with pytest.raises(Unauthorized, match="revoked"):
        authenticator.verify(token)


def test_a_remembered_token_still_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    authenticator = Authenticator(PUBLIC_PEM)
    token = mint_token(PRIVATE_PEM, sub="op-1", scopes=["billing:read"], ttl=timedelta(minutes=5))
    first = authenticator.verify(token)
    assert authenticator.verify(token) is first  # remembered: not verified again
    later = datetime.now(UTC) + timedelta(minutes=5) + LEEWAY + timedelta(seconds=1)
    monkeypatch.setattr("prisme_chassis.auth.time.time", later.timestamp)
    with pytest.raises(Unauthorized, match="expired"):
        authenticator.verify(token)


def test_a_remembered_integration_token_records_its_use_each_time() -> None:
    authenticator = Authenticator(PUBLIC_PEM)
    token = mint_token(PRIVATE_PEM, sub="integration:erp", scopes=["billing:read"], jti="t-9")
    authenticator.verify(token)
    assert "t-9" in authenticator.usage.due()
    authenticator.usage._written.clear()  # as if the last write was long ago
    authenticator.verify(token)  # remembered
    assert "t-9" in authenticator.usage.due()
