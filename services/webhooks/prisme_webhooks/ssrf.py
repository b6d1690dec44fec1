"""Outbound calls to integrators' URLs (DESIGN.md §7): https only, public addresses only.

The check happens twice: when an endpoint is created or changed (a clear 422), and at
connection time, where the HTTP client resolves the name itself, refuses the connection if any
address is private, loopback, link-local or otherwise not public, and connects to the address
it checked (so a DNS answer cannot change between check and use; TLS still verifies the
certificate against the name). Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from .domain import EXCERPT_BYTES


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


class GuardedResolver(AbstractResolver):
    """Resolves, refuses a name with any non-public address, and hands the connector only the
    addresses it checked (the connector connects to them, TLS still checks the name)."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, family=family, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
        found = {str(info[4][0]): info[0] for info in infos}
        if not found or not all(is_public(a) for a in found):
            # (errno, text): the connector's error shows the text
            raise OSError(errno.EACCES, f"refused: {host} resolves to a non-public address")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=fam,
                proto=socket.IPPROTO_TCP,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for address, fam in found.items()
        ]

    async def close(self) -> None:
        return None


@dataclass(frozen=True)
class Answer:
    """What one POST got: the status, the first KiB of the body, ``Retry-After``, or the
    network error (then no status)."""

    status: int | None
    excerpt: str = ""
    retry_after: str | None = None
    error: str | None = None


class DeliveryClient:
    """The HTTP client of deliveries (aiohttp: a keep-alive pool shared by every delivery, an
    order of magnitude less CPU per request than httpx's pool at 64 connections, P8).

    No redirects, no proxy from the environment, a total timeout per POST; when ``enforce``,
    the resolver refuses non-public addresses at connection time, and an address literal in
    the URL (which the connector does not resolve) is checked here before connecting.
    """

    def __init__(self, *, timeout: float, enforce: bool, connections: int) -> None:
        self.timeout = timeout
        self.enforce = enforce
        connector = aiohttp.TCPConnector(
            limit=connections,
            limit_per_host=0,
            resolver=GuardedResolver() if enforce else None,
            ttl_dns_cache=10,
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=timeout),
            headers={"user-agent": "PRISME-Webhooks/1.0"},
            trust_env=False,
            auto_decompress=False,
        )

    async def __aenter__(self) -> DeliveryClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.session.close()

    def _refuse_literal(self, url: str) -> str | None:
        host = urlsplit(url).hostname or ""
        literal = _literal(host)
        if literal is not None and not is_public(literal):
            return f"ConnectError: refused: {host} is a non-public address"
        return None

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        """POST ``body``; never raises for the network (the error is in the answer)."""
        if self.enforce:
            refused = self._refuse_literal(url)
            if refused is not None:
                return Answer(None, error=refused)
        try:
            async with self.session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                received = b""
                while len(received) < EXCERPT_BYTES:
                    chunk = await response.content.read(EXCERPT_BYTES - len(received))
                    if not chunk:
                        break
                    received += chunk
                return Answer(
                    response.status,
                    received[:EXCERPT_BYTES].decode("utf-8", "replace"),
                    response.headers.get("retry-after"),
                )
        except TimeoutError:
            return Answer(None, error=f"no answer within {self.timeout:g} s")
        except aiohttp.ClientConnectorError as exc:
            return Answer(None, error=f"ConnectError: {exc}"[:500])
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return Answer(None, error=f"{type(exc).__name__}: {exc}"[:500])


def delivery_client(*, timeout: float, enforce: bool, connections: int) -> DeliveryClient:
    """The HTTP client of deliveries: no redirects, a total timeout, the guard when enforced."""
    return DeliveryClient(timeout=timeout, enforce=enforce, connections=connections)
