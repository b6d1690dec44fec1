"""What every page and form of the dashboard gets (DESIGN §7).

- Response headers: a strict CSP (``script-src 'self'``: assets are served by the dashboard
  itself), no framing, no sniffing, no referrer to other sites, no caching of pages.
- CSRF: every state-changing form carries a synchronizer token (the session's own, or before
  sign-in an HMAC of the sign-in cookie) and its ``Origin`` (or, lacking it, ``Referer``) must
  be the dashboard's own.
- The session cookie: ``__Host-prisme_session``, HttpOnly, Secure, SameSite=Lax, Path=/.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import CsrfRefused

SESSION_COOKIE = "__Host-prisme_session"
#: set before sign-in: the sign-in form's CSRF token is an HMAC of it
LOGIN_COOKIE = "__Host-prisme_login"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Pure ASGI middleware: the headers above on every response, ``no-store`` on pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(SECURITY_HEADERS)
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def set_cookie(response: Response, name: str, value: str) -> None:
    # No Max-Age: the browser forgets it when it closes; the server enforces the lifetimes.
    response.set_cookie(name, value, path="/", secure=True, httponly=True, samesite="lax")


def clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", secure=True, httponly=True, samesite="lax")


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def own_origins(request: Request, public_url: str | None) -> set[str]:
    if public_url:
        origin = _origin_of(public_url)
        return {origin} if origin else set()
    host = request.headers.get("host", "")
    return {f"{request.url.scheme}://{host}".lower()}


def check_origin(request: Request, public_url: str | None) -> None:
    """Refuse a state-changing request whose Origin (or Referer) is not the dashboard's."""
    sent = request.headers.get("origin")
    if sent is None or sent == "null":
        referer = request.headers.get("referer")
        sent = _origin_of(referer) if referer else None
    if sent is None or sent.lower() not in own_origins(request, public_url):
        raise CsrfRefused("La requête ne vient pas du tableau de bord (origine refusée).")


def check_token(expected: str, sent: str | None) -> None:
    if not sent or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CsrfRefused("Le formulaire a expiré ou son jeton CSRF est invalide.")


def login_token(key: bytes, login_cookie: str) -> str:
    """The sign-in form's CSRF token: bound to this browser's sign-in cookie."""
    return hmac.new(key, b"login-csrf:" + login_cookie.encode(), hashlib.sha256).hexdigest()


def new_login_cookie() -> str:
    return secrets.token_urlsafe(32)
