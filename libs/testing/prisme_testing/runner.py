"""Running a service in tests: in-process under uvicorn, or as a real subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI
from prisme_localinfra import free_port


def loopback_socket() -> tuple[socket.socket, int]:
    """A socket bound to a loopback port the system picks, for ``uvicorn.Server.serve``: a
    port picked free and bound later could be taken in between by a parallel test."""
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
    # without it every answer written in two parts waited ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock, int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def start_service(
    app: FastAPI, *, headers: Mapping[str, str] | None = None, ready_timeout: float = 30.0
) -> AsyncIterator[httpx.AsyncClient]:
    """Serve ``app`` on a free loopback port in this event loop until the block exits.

    Yields an ``httpx.AsyncClient`` whose ``base_url`` is the service; the lifespan (database,
    migrations, bus, consumers, workers) has run and ``/readyz`` answered 200.
    """
    sock, port = loopback_socket()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="on", proxy_headers=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(
            base_url=base, headers=dict(headers or {}), timeout=30.0
        ) as client:
            deadline = time.monotonic() + ready_timeout
            while True:
                if task.done():
                    task.result()  # raises the start-up error
                    raise RuntimeError("service stopped during start-up")
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"service not ready after {ready_timeout}s")
                await asyncio.sleep(0.05)
            yield client
    finally:
        server.should_exit = True
        try:
            # the chassis bounds every shutdown step (about 40 s at worst on a loaded machine)
            await asyncio.wait_for(task, timeout=60.0)
        finally:
            sock.close()


class ServiceProcess:
    """A service as a real process (``python -m module``), for crash and SIGKILL tests."""

    def __init__(
        self, module: str, env: Mapping[str, str], *, log_file: Path | None = None
    ) -> None:
        self.module = module
        self.env = {**os.environ, **env}
        self.port = int(env.get("PRISME_HTTP_PORT") or free_port())
        self.env["PRISME_HTTP_PORT"] = str(self.port)
        self.log_file = log_file
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        out = self.log_file.open("ab") if self.log_file else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    async def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.url) as client:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"{self.module} exited with {self.proc.returncode}")
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise TimeoutError(f"{self.module} not ready after {timeout}s")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait: the graceful path."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode
