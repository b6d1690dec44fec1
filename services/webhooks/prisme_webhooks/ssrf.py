"""Outbound calls to integrators' URLs (DESIGN.md §7): https only, public addresses only.

The check happens twice: when an endpoint is created or changed (a clear 422), and at
connection time, where the HTTP client resolves the name itself, refuses the connection if any
address is private, loopback, link-local or otherwise not public, and connects to the address
it checked (so a DNS answer cannot change between check and use; TLS still verifies the
certificate against the name). Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from urllib.parse import urlsplit

import httpcore
import httpx


class UnsafeUrlError(ValueError):
    """The URL may not be called: wrong scheme, or a non-public address."""


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_global) and not ip.is_multicast


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[str]:
    literal = _literal(host)
    if literal is not None:
        return [literal]
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def check_url(url: str, *, enforce: bool) -> None:
    """Refuse a URL an endpoint may not have (always a valid http(s) URL; https and public
    addresses when ``enforce``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrlError("the URL must be an absolute http(s) URL")
    if parts.username or parts.password:
        raise UnsafeUrlError("the URL must not carry credentials")
    if not enforce:
        return
    if parts.scheme != "https":
        raise UnsafeUrlError("only https URLs are accepted")
    try:
        addresses = await resolve(parts.hostname, parts.port or 443)
    except OSError:
        return  # unresolvable now: the connection-time guard decides when it resolves
    bad = [a for a in addresses if not is_public(a)]
    if bad:
        raise UnsafeUrlError(f"{parts.hostname} is not a public address")


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, refuses non-public addresses, and connects to the address it checked."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self.inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not addresses or not all(is_public(a) for a in addresses):
            raise httpcore.ConnectError(f"refused: {host} resolves to a non-public address")
        return await self.inner.connect_tcp(
            addresses[0], port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("refused: unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def delivery_client(*, timeout: float, enforce: bool, connections: int) -> httpx.AsyncClient:
    """The HTTP client of deliveries: no redirects, a total timeout, the guard when enforced."""
    transport = httpx.AsyncHTTPTransport(
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        retries=0,
    )
    if enforce:
        pool = transport._pool  # httpx exposes no network-backend option
        pool._network_backend = GuardedBackend(pool._network_backend)
    return httpx.AsyncClient(
        transport=transport,
        follow_redirects=False,
        timeout=httpx.Timeout(timeout),
        headers={"user-agent": "PRISME-Webhooks/1.0"},
        trust_env=False,
    )
