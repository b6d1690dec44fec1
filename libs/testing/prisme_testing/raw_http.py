"""A request sent by hand on a socket: headers only, to see what a server answers before the
body (body limits: a 10 MiB body announced, not one byte of it sent)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from urllib.parse import urlsplit


async def answer_to_headers(
    base_url: str, method: str, path: str, headers: Mapping[str, str], timeout: float = 10.0
) -> bytes:
    """The response head (status line and headers) to a request whose body is never sent."""
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {url.netloc}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    finally:
        writer.close()
