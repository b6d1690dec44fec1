"""``SandboxServer``: the sandbox served by uvicorn on a free loopback port, in a thread."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from .app import create_app
from .sandbox import Sandbox


class SandboxServer:
    """Run the sandbox for a test session: ``with SandboxServer(...) as sb: sb.url``."""

    def __init__(self, *, port: int = 0, host: str = "127.0.0.1", **app_kwargs: Any) -> None:
        self.app = create_app(**app_kwargs)
        self.sandbox: Sandbox = self.app.state.sandbox
        self.host = host
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                host=host,
                port=port,
                lifespan="on",
                # keep the host process's logging as it is (uvicorn's default config
                # stops its loggers from propagating to the root handlers)
                log_config=None,
            )
        )
        self._thread: threading.Thread | None = None
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> SandboxServer:
        self._thread = threading.Thread(target=self._server.run, name="stripe-sandbox", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Stripe sandbox did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
