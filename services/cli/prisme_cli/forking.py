"""Start the platform's Python processes by forking a runner that has imported their libraries.

P5 (DESIGN §8, idle footprint): eleven Python processes each importing FastAPI, pydantic,
asyncpg, nats-py, OpenTelemetry and the chassis cost about 70 MB each, almost all of it the
same bytes.  ``prisme up`` imports those libraries once (:func:`preload`), freezes the garbage
collector's view of them (so collections do not write to the shared pages), and forks each
service from there: the pages stay shared copy-on-write, and each service pays only for what
it builds.  This is gunicorn's ``--preload`` applied to a whole platform.

The child is made to look like ``python -m <module> <args>`` started afresh: its own session
(process group), its log on stdout and stderr, nothing inherited from the runner but the
imported modules (every other file descriptor is closed, signal handlers are reset, the
environment is the one given), and ``/proc/<pid>/comm`` names the service for ``ps``/``top``.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import logging
import os
import runpy
import signal
import sys
import traceback
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

#: what the platform's services import at start-up and share: the chassis (FastAPI, pydantic,
#: asyncpg, nats-py, OpenTelemetry, prometheus), and the libraries of one or two services
#: (a library only one service uses costs nothing more when forked: its pages are counted
#: once either way).  Service packages are not preloaded: each imports its own in its child.
PRELOAD = (
    "prisme_chassis.app",
    "prisme_events",
    "aiohttp",
    "aiosmtplib",
    "argon2",
    "authlib.integrations.httpx_client",
    "cryptography.hazmat.primitives.ciphers.aead",
    "holidays",
    "jinja2",
    "stripe",
)

PR_SET_NAME = 15


def preload(modules: Sequence[str] = PRELOAD) -> list[str]:
    """Import ``modules`` (those installed), then freeze the heap; the ones missing are returned."""
    missing = []
    for name in modules:
        try:
            with warnings.catch_warnings():  # a library's deprecation notice is its service's
                warnings.simplefilter("ignore")
                importlib.import_module(name)
        except ImportError:
            missing.append(name)
    gc.collect()
    gc.freeze()  # objects alive now are never scanned again: their pages stay shared
    return missing


class Forked:
    """A forked child, with the part of :class:`subprocess.Popen` the supervisor uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def fork_module(
    module: str,
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    title: str,
) -> Forked:
    """Fork and run ``python -m module args`` in the child; the parent returns at once."""
    sys.stdout.flush()  # what the runner printed is not printed again by the child
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return Forked(pid)
    code = 1
    try:
        _become(env=env, cwd=cwd, log=log, title=title)
        sys.argv = [module, *args]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - the child reports and exits like an interpreter would
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _become(*, env: Mapping[str, str], cwd: Path, log: Path, title: str) -> None:
    """In the child: detach from the runner and set up what a fresh interpreter would have."""
    os.setsid()
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    devnull = os.open(os.devnull, os.O_RDONLY)
    out = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    # the runner's pipes, sockets and files (its reaper's, PostgreSQL's, its HTTP client's)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    # new stdio objects: a runner thread may have held the old ones' locks at the fork
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    logging.root.handlers.clear()  # the runner's handlers write where the child must not
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_NAME, title.encode()[:15], 0, 0, 0)
