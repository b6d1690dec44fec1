"""The one table of what `prisme up` runs (DESIGN.md §4 ports, conventions for the env).

Arguments and environment values are templates filled from the run's context:
``{port}`` is the process's own HTTP port, ``{<name>_port}`` any other process's port
(``{billing_port}``, ``{stripe_sandbox_port}``…), ``{<name>_<purpose>_port}`` a process's
other port (``{mail_sandbox_smtp_port}``), ``{stripe_webhook_secret}`` the generated webhook
signing secret shared by the Stripe sandbox and billing-svc and ``{platform_key_file}`` the
platform's private key, which only the dashboard reads.

The dashboard comes first: `prisme up` prints its URL first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

Kind = Literal["service", "sandbox", "store"]


@dataclass(frozen=True)
class ProcessSpec:
    """One process of the platform, started as ``python -m <module> <args>``."""

    name: str
    module: str
    port: int
    kind: Kind
    #: readiness route: ``/readyz`` (database and bus reachable) for services, ``/healthz``
    #: for the sandboxes, which have neither.
    probe: str
    #: the status the probe answers once the process is up (the repository server answers
    #: 401 to anyone without credentials, and has no open route)
    ready_status: int = 200
    #: the service's own database (env ``PRISME_<NAME>_DATABASE_URL``); None for sandboxes.
    database: str | None = None
    #: the service's own NATS user (DESIGN.md §7: it may publish only its own subjects); the
    #: stream owner name of ``prisme_events.STREAMS``. None for processes without a bus.
    nats_user: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    #: other ports the process listens on, by purpose, with their default (the mail
    #: sandbox's SMTP port): template key ``{<name>_<purpose>_port}``.
    extra_ports: Mapping[str, int] = field(default_factory=dict)
    #: a second (third…) replica of a service: the first replica's name, whose database,
    #: NATS user, data directory and environment it shares (``licence-2`` of ``licence``)
    replica_of: str | None = None

    @property
    def service(self) -> str:
        """The service this process is a replica of (its own name for the first one)."""
        return self.replica_of or self.name

    @property
    def env_prefix(self) -> str:
        return f"PRISME_{self.service.upper().replace('-', '_')}"

    @property
    def database_env(self) -> str | None:
        return f"{self.env_prefix}_DATABASE_URL" if self.database else None

    @property
    def port_key(self) -> str:
        return f"{self.name.replace('-', '_')}_port"

    def extra_port_key(self, purpose: str) -> str:
        return f"{self.name.replace('-', '_')}_{purpose}_port"

    def render_args(self, context: Mapping[str, str]) -> list[str]:
        return [arg.format_map(context) for arg in self.args]

    def render_env(self, context: Mapping[str, str]) -> dict[str, str]:
        return {key: value.format_map(context) for key, value in self.env.items()}


PROCESSES: tuple[ProcessSpec, ...] = (
    ProcessSpec(
        name="dashboard",
        module="prisme_dashboard",
        port=8000,
        kind="service",
        probe="/readyz",
        database="dashboard",
        nats_user="dashboard",
        # DESIGN §7: the token issuer holds the platform's signing key (a file, not argv)
        env={
            "PRISME_DASHBOARD_SIGNING_KEY_FILE": "{platform_key_file}",
            # the pages call the services as the operator (ports follow --free-ports)
            "PRISME_DASHBOARD_CONTRACTS_URL": "http://127.0.0.1:{contracts_port}",
            "PRISME_DASHBOARD_BILLING_URL": "http://127.0.0.1:{billing_port}",
            "PRISME_DASHBOARD_LICENCE_URL": "http://127.0.0.1:{licence_port}",
            "PRISME_DASHBOARD_VIDEO_URL": "http://127.0.0.1:{video_port}",
            "PRISME_DASHBOARD_BACKUP_URL": "http://127.0.0.1:{backup_port}",
            "PRISME_DASHBOARD_WEBHOOKS_URL": "http://127.0.0.1:{webhooks_port}",
        },
    ),
    ProcessSpec(
        name="graph-sandbox",
        module="prisme_graph_sandbox",
        port=8010,
        kind="sandbox",
        probe="/healthz",
        args=("--port", "{port}"),
    ),
    ProcessSpec(
        name="stripe-sandbox",
        module="prisme_stripe_sandbox",
        port=8011,
        kind="sandbox",
        probe="/healthz",
        args=(
            "--port",
            "{port}",
            "--webhook-url",
            "http://127.0.0.1:{billing_port}/v1/webhooks/stripe",
        ),
        # the signing secret goes by environment, not argv, which any local user can read
        env={"PRISME_STRIPE_SANDBOX_WEBHOOK_SECRET": "{stripe_webhook_secret}"},
    ),
    ProcessSpec(
        name="mail-sandbox",
        module="prisme_mail_sandbox",
        port=8012,
        kind="sandbox",
        probe="/healthz",
        args=("--port", "{port}", "--smtp-port", "{mail_sandbox_smtp_port}"),
        extra_ports={"smtp": 2525},
    ),
    ProcessSpec(
        # K1/R8: the restic REST server of the agents, one user and repository per plan,
        # append-only; backup-svc writes its users file.
        name="backup-repository",
        module="prisme_backup.repository_server",
        port=8007,
        kind="store",
        probe="/",
        ready_status=401,
        args=(
            "--port",
            "{port}",
            "--root",
            "{data_dir}/services/backup/repositories",
            "--users-file",
            "{data_dir}/services/backup/repository-users.htpasswd",
        ),
    ),
    ProcessSpec(
        name="contracts",
        module="prisme_contracts",
        port=8001,
        kind="service",
        probe="/readyz",
        database="contracts",
        nats_user="contracts-svc",
        env={
            "PRISME_CONTRACTS_BILLING_URL": "http://127.0.0.1:{billing_port}",
            "PRISME_CONTRACTS_BILLING_TOKEN": "{contracts_billing_token}",
        },
    ),
    ProcessSpec(
        name="billing",
        module="prisme_billing",
        port=8002,
        kind="service",
        probe="/readyz",
        database="billing",
        nats_user="billing-svc",
        env={
            "PRISME_BILLING_STRIPE_API_BASE": "http://127.0.0.1:{stripe_sandbox_port}",
            "PRISME_BILLING_STRIPE_WEBHOOK_SECRET": "{stripe_webhook_secret}",
            # B11: invoices and credit notes e-mailed through the mail sandbox
            "PRISME_SMTP_HOST": "127.0.0.1",
            "PRISME_SMTP_PORT": "{mail_sandbox_smtp_port}",
        },
    ),
    ProcessSpec(
        name="licence",
        module="prisme_licence",
        port=8003,
        kind="service",
        probe="/readyz",
        database="licence",
        nats_user="licence-svc",
        env={
            "PRISME_LICENCE_GRAPH_BASE_URL": "http://127.0.0.1:{graph_sandbox_port}/v1.0",
            # {{tenant}} stays a placeholder: licence-svc fills in each practice's tenant
            "PRISME_LICENCE_GRAPH_TOKEN_URL": (
                "http://127.0.0.1:{graph_sandbox_port}/{{tenant}}/oauth2/v2.0/token"
            ),
        },
    ),
    ProcessSpec(
        name="video",
        module="prisme_video",
        port=8004,
        kind="service",
        probe="/readyz",
        database="video",
        nats_user="video-svc",
        env={"PRISME_VIDEO_PUBLIC_BASE_URL": "http://127.0.0.1:{port}"},
    ),
    ProcessSpec(
        name="backup",
        module="prisme_backup",
        port=8005,
        kind="service",
        probe="/readyz",
        database="backup",
        nats_user="backup-svc",
        env={"PRISME_BACKUP_REPOSITORY_SERVER_URL": "http://127.0.0.1:{backup_repository_port}"},
    ),
    ProcessSpec(
        name="webhooks",
        module="prisme_webhooks",
        port=8006,
        kind="service",
        probe="/readyz",
        database="webhooks",
        # the WEBHOOKS stream's NATS user: the platform processes of services/
        nats_user="webhooks",
        env={
            "PRISME_SMTP_HOST": "127.0.0.1",
            "PRISME_SMTP_PORT": "{mail_sandbox_smtp_port}",
        },
    ),
)


#: DESIGN §8 / issue 17: replicas are for the services (sandboxes and stores are single)
MAX_REPLICAS = 8
#: a replica n > 1 of a service listens on its port + REPLICA_PORT_STEP × (n - 1) (8103…)
REPLICA_PORT_STEP = 100


def parse_replicas(text: str | None) -> dict[str, int]:
    """``licence=2,billing=2`` → ``{"licence": 2, "billing": 2}``; refuses what is not
    ``name=count`` with a count between 1 and :data:`MAX_REPLICAS`."""
    counts: dict[str, int] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, count = part.partition("=")
        if not sep or not count.strip().isdigit():
            raise ValueError(f"--replicas wants name=count pairs, got {part.strip()!r}")
        n = int(count)
        if not 1 <= n <= MAX_REPLICAS:
            raise ValueError(f"replicas of {name.strip()} must be 1 to {MAX_REPLICAS}, got {n}")
        counts[name.strip()] = n
    return counts


def with_replicas(specs: list[ProcessSpec], counts: Mapping[str, int]) -> list[ProcessSpec]:
    """``specs`` with each service named in ``counts`` run that many times: replica n > 1 is
    ``<name>-<n>`` on its own port, sharing the first one's database, NATS user (its consumers
    share the durable consumer), data directory and settings. Outbox relays, consumers, job
    queues and schedulers claim work with locks, leases and the inbox, so replicas split the
    work and each effect still happens once."""
    by_name = {spec.name: spec for spec in specs}
    unknown = sorted(set(counts) - set(by_name))
    if unknown:
        raise ValueError(f"--replicas of process(es) not run: {', '.join(unknown)}")
    single = sorted(n for n, c in counts.items() if c > 1 and by_name[n].kind != "service")
    if single:
        raise ValueError(f"only services run as replicas, not {', '.join(single)}")
    out: list[ProcessSpec] = []
    for spec in specs:
        out.append(spec)
        for n in range(2, counts.get(spec.name, 1) + 1):
            out.append(
                replace(
                    spec,
                    name=f"{spec.name}-{n}",
                    port=spec.port + REPLICA_PORT_STEP * (n - 1),
                    replica_of=spec.name,
                    extra_ports={},
                )
            )
    return out


def select(
    only: Iterable[str] | None, table: Iterable[ProcessSpec] = PROCESSES
) -> list[ProcessSpec]:
    """The processes named in ``only`` (all when None), in table order.

    Raises ``ValueError`` naming the unknown names, so a typo in ``--only`` is not silently
    ignored.
    """
    specs = list(table)
    if only is None:
        return specs
    wanted = {name.strip() for name in only if name.strip()}
    known = {spec.name for spec in specs}
    unknown = sorted(wanted - known)
    if unknown:
        raise ValueError(
            f"unknown process(es): {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    return [spec for spec in specs if spec.name in wanted]
