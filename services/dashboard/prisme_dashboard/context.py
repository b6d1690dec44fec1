"""What the running dashboard holds besides a connection: its derived keys."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated

import httpx
from fastapi import Depends
from prisme_chassis.app import Resources, Runtime, runtime_dependency
from prisme_chassis.sealing import Keyring

from .clients import new_http_client
from .issuer import Issuer
from .keys import LOGIN_CSRF, TOTP_SEED, derive_key
from .oidc import OidcConfig
from .settings import DashboardSettings


@dataclass(frozen=True)
class DashboardContext:
    #: signs the sign-in form's CSRF token
    login_key: bytes
    #: seals TOTP seeds at rest (the chassis' envelopes: key id in each blob, so the secret key
    #: rotates with PRISME_DASHBOARD_PREVIOUS_SECRET_KEYS)
    keyring: Keyring
    #: mints the operators' short-lived tokens and the integration tokens
    issuer: Issuer
    #: OpenID Connect sign-in, when configured
    oidc: OidcConfig | None = None
    #: the one connection pool towards the services (clients.Services); opened at start-up
    http: httpx.AsyncClient | None = None


def derive_context(settings: DashboardSettings) -> DashboardContext:
    secret = settings.secret_key_bytes()
    if settings.signing_key is None:
        raise ValueError(
            "PRISME_DASHBOARD_SIGNING_KEY (or _SIGNING_KEY_FILE) must hold the platform's "
            "Ed25519 private key"
        )
    return DashboardContext(
        login_key=derive_key(secret, LOGIN_CSRF),
        keyring=Keyring(
            derive_key(secret, TOTP_SEED),
            [derive_key(old, TOTP_SEED) for old in settings.previous_secret_keys_bytes()],
        ),
        issuer=Issuer(settings.signing_key.get_secret_value()),
        oidc=_oidc(settings),
    )


def _oidc(settings: DashboardSettings) -> OidcConfig | None:
    if not settings.oidc_issuer:
        return None
    if not settings.oidc_client_id or settings.oidc_client_secret is None:
        raise ValueError("OpenID Connect needs PRISME_DASHBOARD_OIDC_CLIENT_ID and _CLIENT_SECRET")
    return OidcConfig(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret.get_secret_value(),
        group_roles=dict(settings.oidc_group_roles),
        label=settings.oidc_label,
    )


async def build_context(resources: Resources[DashboardSettings]) -> DashboardContext:
    return replace(derive_context(resources.settings), http=new_http_client())


async def close_context(rt: Runtime[DashboardSettings, DashboardContext]) -> None:
    if rt.context.http is not None:
        await rt.context.http.aclose()


DashboardRuntime = Runtime[DashboardSettings, DashboardContext]
DashboardRuntimeDep = Annotated[
    DashboardRuntime, Depends(runtime_dependency(DashboardSettings, DashboardContext))
]
