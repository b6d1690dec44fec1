"""Small stand-in processes for the supervisor tests, and process checks by pid."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from prisme_cli.state import alive, start_time

FAKE_MAIN = """
import http.server, os, signal, subprocess, sys

port = int(sys.argv[sys.argv.index("--port") + 1])
mode = os.environ.get("FAKE_MODE", "ok")
if mode == "crash":
    raise ImportError("cannot import name 'nothing' (a deliberately broken service)")
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
# a child in the same process group: stopping the service must not leave it behind
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
with open(os.environ["FAKE_CHILD_FILE"], "a") as out:
    out.write(f"{child.pid}\\n")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A package ``prisme_fake_<n>`` with a ``__main__`` serving /healthz; returns its name."""
    root = tmp_path / "pkgs"
    name = f"prisme_fake_{abs(hash(tmp_path)) % 10**8}"
    package = root / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(textwrap.dedent(FAKE_MAIN))
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYTHONPATH", str(root))
    return name


class Procs:
    """Checks by pid that processes seen alive earlier are gone (pids are matched with their
    kernel start time, so a reused pid is not mistaken for a survivor)."""

    @staticmethod
    def snapshot(pids: list[int]) -> list[tuple[int, int]]:
        return [(pid, st) for pid in pids if (st := start_time(pid)) is not None]

    @staticmethod
    def survivors(processes: list[tuple[int, int]]) -> list[int]:
        return [pid for pid, started in processes if alive(pid, started)]


@pytest.fixture
def procs() -> Procs:
    return Procs()
