"""The test harness's own sockets: what every in-process service of the suite listens on."""

from __future__ import annotations

import asyncio
import socket

from prisme_testing.runner import loopback_socket


async def test_a_loopback_socket_takes_connections_with_nagle_off() -> None:
    """asyncio turns Nagle off (TCP_NODELAY) only on sockets that say they are TCP; a socket
    made with protocol 0 kept it on, and every answer written in two parts then waited for a
    delayed ACK (about 40 ms a request: the fuzz tests ran seven times slower)."""
    sock, port = loopback_socket()
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            conn = transport.get_extra_info("socket")
            accepted.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
    try:
        assert sock.getsockname() == ("127.0.0.1", port)
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(accepted, 5) == 1
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
