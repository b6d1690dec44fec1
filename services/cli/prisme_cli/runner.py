"""`prisme up`: the whole platform on one machine (DESIGN.md §5, embedded mode).

Order: data dir and key material → NATS (unless ``PRISME_NATS_URL``) → PostgreSQL and one
database per service (unless every ``PRISME_<SVC>_DATABASE_URL`` is set) → sandboxes and
services → wait for readiness → print the URLs and the admin token → supervise until
SIGINT/SIGTERM/SIGHUP → stop services, then NATS, then PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TextIO

from prisme_localinfra import NatsServer, PostgresServer, free_port
from prisme_localinfra.nats_auth import PROVISIONER, render_config, url_with_credentials
from prisme_localinfra.ports import port_open

from . import reaper
from .catalogue import PROCESSES, ProcessSpec, select, with_replicas
from .control import cleanup
from .datadir import ADMIN_TOKEN_TTL, DataDir, write_private
from .forking import preload
from .state import RunState, alive, start_time
from .supervisor import Supervisor

DEFAULT_NATS_PORT = 4222
#: the first admin `prisme up` creates on an empty dashboard (PRISME_FIRST_ADMIN_EMAIL)
FIRST_ADMIN_EMAIL = os.environ.get("PRISME_FIRST_ADMIN_EMAIL", "admin@prisme.local")


class AlreadyRunningError(RuntimeError):
    pass


@dataclass
class UpOptions:
    data_dir: Path
    only: list[str] | None = None
    #: pick free ports for everything instead of the DESIGN.md §4 defaults
    free_ports: bool = False
    #: services run as several replicas (``{"licence": 2, "billing": 2}``)
    replicas: dict[str, int] = field(default_factory=dict)
    ready_timeout: float = 60.0
    grace: float = 10.0
    python: str = sys.executable
    #: fork the Python processes from the runner, which imported their libraries once
    #: (P5: the pages stay shared); False starts a fresh interpreter for each
    fork: bool = True
    out: TextIO = field(default_factory=lambda: sys.stdout)


class Shutdown:
    """Turns SIGINT/SIGTERM/SIGHUP into a flag; a second signal asks to hurry."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.hurry = threading.Event()
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested.is_set():
            self.hurry.set()
        self.requested.set()

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


def assign_ports(specs: list[ProcessSpec], free_ports: bool) -> dict[str, int]:
    """Each process's HTTP port by name, and its other ports as ``name:purpose``."""
    ports: dict[str, int] = {}
    for spec in specs:
        ports[spec.name] = free_port() if free_ports else spec.port
        for purpose, default in spec.extra_ports.items():
            ports[f"{spec.name}:{purpose}"] = free_port() if free_ports else default
    return ports


def template_context(
    ports: dict[str, int],
    stripe_webhook_secret: str,
    platform_key_file: str = "",
    service_tokens: dict[str, str] | None = None,
) -> dict[str, str]:
    """Values for the table's templates; a process left out by ``--only`` keeps its default
    port (e.g. the Stripe sandbox still targets billing on 8002). ``service_tokens`` are the
    bearer tokens one service uses to call another (``{contracts_billing_token}``)."""
    context = {
        "stripe_webhook_secret": stripe_webhook_secret,
        "platform_key_file": platform_key_file,
        **(service_tokens or {}),
    }
    for spec in PROCESSES:
        context[spec.port_key] = str(ports.get(spec.name, spec.port))
        for purpose, default in spec.extra_ports.items():
            context[spec.extra_port_key(purpose)] = str(
                ports.get(f"{spec.name}:{purpose}", default)
            )
    return context


def check_not_running(data_dir: DataDir) -> None:
    """Refuse to start twice on one data dir; clean up after a runner that was killed."""
    if not data_dir.state_file.exists():
        return
    state = RunState.load(data_dir.state_file)
    if alive(state.runner_pid, state.runner_started):
        raise AlreadyRunningError(
            f"prisme is already running on {data_dir.root} (runner pid {state.runner_pid}); "
            "use `prisme status` or `prisme down`"
        )
    cleanup(state, report=lambda line: print(f"[prisme] stale run: {line}"))
    data_dir.state_file.unlink(missing_ok=True)


def start_postgres(
    postgres: PostgresServer, specs: list[ProcessSpec], pool: ThreadPoolExecutor
) -> dict[str, str]:
    """Start PostgreSQL and create the services' databases (concurrently: on a fresh cluster
    each CREATE DATABASE waits on its own checkpoint)."""
    postgres.start()
    databases = {spec.database for spec in specs if spec.database}
    futures = {db: pool.submit(postgres.create_database, db) for db in sorted(databases)}
    urls = {db: future.result() for db, future in futures.items()}
    # replicas of a service share its database
    return {spec.name: urls[spec.database] for spec in specs if spec.database}


def busy_ports(ports: dict[str, int]) -> list[str]:
    return [f"{name} ({port})" for name, port in ports.items() if port_open(port)]


class Platform:
    """One run of the platform: its infrastructure, its processes and the state file."""

    def __init__(
        self,
        options: UpOptions,
        data_dir: DataDir,
        specs: list[ProcessSpec],
        ports: dict[str, int],
        say: Callable[[str], None],
    ) -> None:
        self.options = options
        self.data_dir = data_dir
        self.specs = specs
        self.ports = ports
        self.say = say
        self.state = RunState(
            data_dir=str(data_dir.root),
            runner_pid=os.getpid(),
            runner_started=start_time(os.getpid()),
        )
        self.nats: NatsServer | None = None
        self.provision_url: str | None = None  # the embedded NATS' provisioning identity
        self.postgres: PostgresServer | None = None
        self.postgres_ready: Future[dict[str, str]] | None = None
        self.supervisor: Supervisor | None = None
        self._pool = ThreadPoolExecutor(max_workers=len(specs) + 1)

    def save(self) -> None:
        self.state.save(self.data_dir.state_file)

    def start_postgres(self) -> None:
        """In the background (the slowest part on a fresh data dir): PostgreSQL and the
        databases of the services whose ``PRISME_<SVC>_DATABASE_URL`` is not set."""
        with_db = [s for s in self.specs if s.database_env]
        wanted = [s for s in with_db if not os.environ.get(s.database_env or "")]
        if with_db and not wanted:
            self.state.infra.external_postgres = True
            self.say("using external PostgreSQL databases")
            return
        if not wanted:
            return
        self.postgres = PostgresServer(self.data_dir.postgres)
        self.state.infra.postgres_dir = str(self.postgres.data_dir)
        self.state.infra.postgres_dsn = self.postgres.admin_dsn
        self.save()
        self.postgres_ready = self._pool.submit(start_postgres, self.postgres, wanted, self._pool)

    def database_urls(self) -> dict[str, str]:
        """Wait for :meth:`start_postgres`; the DSN of each service's database."""
        if self.postgres_ready is None or self.postgres is None:
            return {}
        urls = self.postgres_ready.result()
        self.state.infra.postgres_dsn = self.postgres.admin_dsn  # its port may have changed
        pid = self.postgres.pid
        self.state.infra.postgres_pid = pid
        self.state.infra.postgres_started = start_time(pid) if pid else None
        self.save()
        return urls

    def start_nats(self) -> dict[str, str]:
        """The embedded NATS unless ``PRISME_NATS_URL`` is set; each service's NATS URL."""
        external = os.environ.get("PRISME_NATS_URL")
        if external:
            self.state.infra.nats_url = external
            self.state.infra.external_nats = True
            self.say("using external NATS (PRISME_NATS_URL)")
            return {}
        # DESIGN.md §7: each service has its own least-privileged NATS user (its subjects, its
        # consumers, its inbox, its dead letters: prisme_localinfra.nats_auth, the same rules
        # as deploy/nats); streams and consumers are created by the ``provisioner`` user,
        # whose URL each service gets as PRISME_NATS_PROVISION_URL for its start-up.
        users = [spec.nats_user for spec in PROCESSES if spec.nats_user]
        passwords = self.data_dir.ensure_nats_passwords([*users, PROVISIONER])
        write_private(self.data_dir.nats_config, render_config(passwords))
        port = DEFAULT_NATS_PORT
        if self.options.free_ports or port_open(port):
            port = free_port()
        self.nats = NatsServer(
            self.data_dir.nats,
            port,
            config_file=self.data_dir.nats_config,
            log_file=self.data_dir.log_file("nats"),
        )
        self.nats.start()
        self.state.infra.nats_url = self.nats.url
        self.state.infra.nats_pid = self.nats.pid
        self.state.infra.nats_started = start_time(self.nats.pid) if self.nats.pid else None
        self.save()
        self.provision_url = url_with_credentials(
            self.nats.url, PROVISIONER, passwords[PROVISIONER]
        )
        return {
            spec.name: url_with_credentials(
                self.nats.url, spec.nats_user, passwords[spec.nats_user]
            )
            for spec in self.specs
            if spec.nats_user
        }

    def step(self) -> None:
        """One supervision step, saving the state when something changed."""
        assert self.supervisor is not None
        self.supervisor.poll()
        if self.supervisor.changed:
            self.supervisor.changed = False
            self.save()

    def stop(self, hurry: Callable[[], bool]) -> None:
        """Services first (they drain into NATS and PostgreSQL), then NATS, then PostgreSQL."""
        self.state.phase = "stopping"
        self.save()
        if self.supervisor is not None:
            self.supervisor.stop(self.options.grace, hurry=hurry)
        if self.nats is not None:
            _stop_quietly(self.say, "nats", self.nats.stop)
        if self.postgres_ready is not None:
            # a PostgreSQL still starting would come up after a stop: let it finish first
            wait([self.postgres_ready])
        if self.postgres is not None:
            _stop_quietly(self.say, "postgres", self.postgres.stop)
        self._pool.shutdown()
        self.data_dir.state_file.unlink(missing_ok=True)


def up(options: UpOptions, shutdown: Shutdown | None = None) -> int:
    out = options.out

    def say(line: str) -> None:
        print(f"[prisme] {line}", file=out, flush=True)

    data_dir = DataDir.at(options.data_dir)
    data_dir.prepare()
    try:
        specs = with_replicas(select(options.only), options.replicas)
        check_not_running(data_dir)
    except (ValueError, AlreadyRunningError) as exc:
        say(str(exc))
        return 2
    ports = assign_ports(specs, options.free_ports)
    busy = busy_ports(ports)
    if busy:
        say(
            "port(s) already in use: " + ", ".join(busy) + " — stop what holds them, "
            "or run with --free-ports"
        )
        return 2

    own_shutdown = shutdown is None
    shutdown = shutdown or Shutdown()
    if own_shutdown:
        shutdown.install()
    began = time.monotonic()
    platform = Platform(options, data_dir, specs, ports, say)
    platform.save()
    # DESIGN §5: if this runner is killed (even SIGKILL), the reaper stops what it started
    watchdog = reaper.start(data_dir.root)
    try:
        public_key = data_dir.ensure_keypair()
        admin_token = data_dir.ensure_admin_token()
        webhook_secret = data_dir.ensure_secret("stripe-webhook-secret", prefix="whsec_")
        base_env = dict(os.environ)
        base_env.setdefault("PRISME_ENV", "development")
        base_env["PRISME_JWT_PUBLIC_KEY"] = public_key
        base_env["PYTHONUNBUFFERED"] = "1"

        platform.start_postgres()
        if options.fork:  # while PostgreSQL starts
            preload()
        nats_urls = platform.start_nats()
        supervisor = platform.supervisor = Supervisor(
            specs,
            ports,
            template_context(
                ports,
                webhook_secret,
                str(data_dir.private_key),
                {
                    # B1: contracts-svc asks billing's price book before an activation.
                    "contracts_billing_token": data_dir.mint(
                        sub="contracts-svc",
                        scopes=["billing:read"],
                        name="contracts-svc → billing (prisme up)",
                        ttl=ADMIN_TOKEN_TTL,
                    )
                },
            ),
            base_env,
            data_dir,
            nats_urls=nats_urls,
            nats_provision_url=platform.provision_url,
            python=options.python,
            fork=options.fork,
            report=say,
        )
        platform.state.processes = [m.state for m in supervisor.managed]
        if not shutdown.requested.is_set():  # the sandboxes need neither NATS nor a database
            supervisor.start_all(lambda spec: spec.database is None)
        platform.save()
        supervisor.database_urls.update(platform.database_urls())
        if shutdown.requested.is_set():
            return 0
        supervisor.start_all(lambda spec: spec.database is not None)
        platform.save()

        deadline = time.monotonic() + options.ready_timeout
        while not shutdown.requested.is_set():
            platform.step()
            if supervisor.all_settled() or time.monotonic() > deadline:
                break
            shutdown.requested.wait(0.05)
        if shutdown.requested.is_set():
            return 0
        platform.state.phase = "running"
        platform.save()
        first_admin = bootstrap_first_admin(supervisor, options.python, say)
        print_summary(
            out,
            data_dir,
            platform.state,
            platform.postgres,
            admin_token,
            time.monotonic() - began,
            first_admin=first_admin,
        )
        while not shutdown.requested.is_set():
            platform.step()
            shutdown.requested.wait(0.2)
        return 0
    except Exception as exc:  # noqa: BLE001 - report, then stop everything in `finally`
        say(f"failed: {type(exc).__name__}: {exc}")
        return 1
    finally:
        say("stopping…")
        platform.stop(hurry=shutdown.hurry.is_set)
        watchdog.terminate()
        watchdog.wait(30)
        if own_shutdown:
            shutdown.restore()
        say("stopped")


def _stop_quietly(say: Callable[[str], None], name: str, stop: Callable[[], None] | None) -> None:
    if stop is None:
        return
    try:
        stop()
    except Exception as exc:  # noqa: BLE001 - keep stopping the rest
        say(f"could not stop {name}: {exc}")


def bootstrap_first_admin(
    supervisor: Supervisor, python: str, say: Callable[[str], None]
) -> tuple[str, str] | None:
    """On the first run (no operator yet) the dashboard's first admin: (e-mail, one-time
    password), printed once by the summary and never written anywhere."""
    managed = next((m for m in supervisor.managed if m.spec.name == "dashboard"), None)
    if managed is None or managed.state.status != "ready":
        return None
    env = supervisor.environment(managed.spec, managed.state.port)
    done = subprocess.run(
        [python, "-m", "prisme_dashboard.manage", "bootstrap", "--email", FIRST_ADMIN_EMAIL],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        say(f"could not create the first admin: {done.stderr.strip()[-500:]}")
        return None
    result = json.loads(done.stdout)
    if not result.get("created"):
        return None
    return str(result["email"]), str(result["password"])


def print_summary(
    out: TextIO,
    data_dir: DataDir,
    state: RunState,
    postgres: PostgresServer | None,
    admin_token: str,
    elapsed: float,
    *,
    first_admin: tuple[str, str] | None = None,
) -> None:
    ready = [p for p in state.processes if p.status == "ready"]
    lines = [
        "",
        f"PRISME: {len(ready)}/{len(state.processes)} processes ready in {elapsed:.1f} s "
        f"(data dir {data_dir.root})",
        "",
        f"  {'NAME':<16}{'URL':<28}{'STATUS':<15}DETAIL",
    ]
    for proc in state.processes:
        lines.append(f"  {proc.name:<16}{proc.url:<28}{proc.status:<15}{proc.detail}")
    lines.append(f"  {'nats':<16}{state.infra.nats_url or '':<28}")
    if postgres is not None:
        lines.append(f"  {'postgres':<16}{postgres.dsn(''):<28}")
    elif state.infra.external_postgres:
        lines.append(f"  {'postgres':<16}{'(external)':<28}")
    if first_admin is not None:
        lines += [
            "",
            "  premier administrateur du tableau de bord (affiché une seule fois,",
            "  mot de passe à changer à la première connexion) :",
            f"    e-mail :       {first_admin[0]}",
            f"    mot de passe : {first_admin[1]}",
        ]
    lines += [
        "",
        f"  logs: {data_dir.logs}/<name>.log",
        f"  admin token (also in {data_dir.admin_token}):",
        f"  {admin_token}",
        "",
        "  Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), file=out, flush=True)
