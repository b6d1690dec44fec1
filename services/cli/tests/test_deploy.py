"""deploy/ and docker-compose.yml: parsed and, where a real binary exists here, exercised.

No container engine runs here, so the compose file and the Kubernetes manifests are checked
for structure against the service table; the NATS configuration runs for real (a 3-node
JetStream cluster of nats-server processes with the account rules), and the PostgreSQL init
script runs against a real PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import kubernetes_validate
import nats
import nats.errors
import pytest
import yaml
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig
from prisme_cli.catalogue import PROCESSES
from prisme_localinfra import PostgresServer, free_port
from prisme_localinfra.nats import nats_server_binary
from prisme_localinfra.nats_auth import render_accounts
from prisme_localinfra.ports import wait_for_port

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
SERVICES = [spec for spec in PROCESSES if spec.kind == "service"]
SANDBOXES = [spec for spec in PROCESSES if spec.kind == "sandbox"]
NATS_PASSWORDS = {
    f"NATS_{name}_PASSWORD": f"pw-{name.lower()}"
    for name in (
        "DASHBOARD",
        "PROVISIONER",
        "CONTRACTS",
        "BILLING",
        "LICENCE",
        "VIDEO",
        "BACKUP",
        "WEBHOOKS",
        "ADMIN",
        "SYS",
        "ROUTE",
    )
}


ROUTE_REQUIRED = "set NATS_ROUTE_PASSWORD in .env (cp .env.example .env)"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_compose_runs_a_3_node_nats_cluster_with_health_checks() -> None:
    services = compose()["services"]
    for node in ("nats-1", "nats-2", "nats-3"):
        nats_node = services[node]
        assert nats_node["command"] == ["-c", "/etc/nats/cluster.conf"]
        assert "./deploy/nats:/etc/nats:ro" in nats_node["volumes"]
        assert "js-enabled-only=true" in " ".join(nats_node["healthcheck"]["test"])
        env = nats_node["environment"]
        assert env["SERVER_NAME"] == node
        assert {env[f"NATS_ROUTE_{i}"] for i in (1, 2, 3)} == {
            f"nats-route://route:${{NATS_ROUTE_PASSWORD:?{ROUTE_REQUIRED}}}@nats-{i}:6222"
            for i in (1, 2, 3)
        }
        assert set(NATS_PASSWORDS) <= set(env)


def test_compose_runs_every_process_of_the_table_on_its_port() -> None:
    services = compose()["services"]
    assert {"postgres", "otel-collector", "jaeger", "keys"} <= set(services)
    for spec in SERVICES:
        svc = services[spec.name]
        assert svc["command"] == [spec.module]
        assert svc["ports"] == [f"{spec.port}:8000"]
        env = svc["environment"]
        assert env["PRISME_NATS_URL"].startswith(f"nats://{spec.nats_user}:")
        database_url = env[f"PRISME_{spec.name.upper()}_DATABASE_URL"]
        assert database_url.endswith(f"@postgres:5432/{spec.name}")
        assert env["PRISME_STREAM_REPLICAS"] == "3"
        assert env["PRISME_OTLP_ENDPOINT"] == "http://otel-collector:4318"
        deps = svc["depends_on"]
        for node in ("nats-1", "nats-2", "nats-3", "postgres"):
            assert deps[node]["condition"] == "service_healthy"
        assert "/readyz" in " ".join(svc["healthcheck"]["test"])
    for spec in SANDBOXES:
        svc = services[spec.name]
        assert svc["command"][0] == spec.module
        assert svc["ports"][0] == f"{spec.port}:{spec.port}"
        for purpose, port in spec.extra_ports.items():
            assert f"{port}:{port}" in svc["ports"], purpose
    # billing and the Stripe sandbox agree on the webhook secret by default
    billing_secret = services["billing"]["environment"]["PRISME_BILLING_STRIPE_WEBHOOK_SECRET"]
    sandbox_env = services["stripe-sandbox"]["environment"]
    assert sandbox_env["PRISME_STRIPE_SANDBOX_WEBHOOK_SECRET"] == billing_secret


def test_nats_accounts_are_the_rules_of_the_embedded_runner() -> None:
    """deploy/nats/accounts.conf is generated from prisme_localinfra.nats_auth: never drifts."""
    assert (DEPLOY / "nats" / "accounts.conf").read_text() == render_accounts(), (
        "deploy/nats/accounts.conf is stale: "
        "python -m prisme_localinfra.nats_auth > deploy/nats/accounts.conf"
    )


def _nats_env(**extra: str) -> dict[str, str]:
    return {**os.environ, **NATS_PASSWORDS, **extra}


def test_nats_cluster_config_is_valid_and_refuses_a_missing_password() -> None:
    routes = {f"NATS_ROUTE_{i}": f"nats-route://route:pw@nats-{i}:6222" for i in (1, 2, 3)}
    conf = str(DEPLOY / "nats" / "cluster.conf")
    ok = subprocess.run([nats_server_binary(), "-t", "-c", conf], capture_output=True, text=True,
                        env=_nats_env(SERVER_NAME="nats-1", **routes))  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    env = _nats_env(SERVER_NAME="nats-1", **routes)
    del env["NATS_BILLING_PASSWORD"]
    bad = subprocess.run([nats_server_binary(), "-t", "-c", conf], capture_output=True, text=True,
                         env=env)  # fmt: skip
    assert bad.returncode != 0
    assert "NATS_BILLING_PASSWORD" in bad.stderr
    # the cluster routes authenticate: no route password, no server
    env = _nats_env(SERVER_NAME="nats-1", **routes)
    del env["NATS_ROUTE_PASSWORD"]
    bad = subprocess.run([nats_server_binary(), "-t", "-c", conf], capture_output=True, text=True,
                         env=env)  # fmt: skip
    assert bad.returncode != 0
    assert "NATS_ROUTE_PASSWORD" in bad.stderr


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[list[str]]:
    """Three nats-server processes running deploy/nats (store dir and ports moved to tmp)."""
    ports = [(free_port(), free_port(), free_port()) for _ in range(3)]
    secret = NATS_PASSWORDS["NATS_ROUTE_PASSWORD"]
    routes = {
        f"NATS_ROUTE_{i + 1}": f"nats-route://route:{secret}@127.0.0.1:{p[1]}"
        for i, p in enumerate(ports)
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i, (client, cluster, monitor) in enumerate(ports):
            node = tmp_path / f"n{i}"
            node.mkdir()
            conf = (DEPLOY / "nats" / "cluster.conf").read_text()
            assert "store_dir: /data " in conf
            (node / "cluster.conf").write_text(
                conf.replace("store_dir: /data ", f"store_dir: {node} ")
            )
            (node / "accounts.conf").write_text((DEPLOY / "nats" / "accounts.conf").read_text())
            with (node / "log").open("wb") as log:
                procs.append(subprocess.Popen(
                    [nats_server_binary(), "-c", str(node / "cluster.conf"), "-a", "127.0.0.1",
                     "-p", str(client), "-m", str(monitor),
                     "--cluster", f"nats://127.0.0.1:{cluster}"],
                    env=_nats_env(SERVER_NAME=f"n{i}", **routes), stdout=log,
                    stderr=subprocess.STDOUT,
                ))  # fmt: skip
        for client, _, _ in ports:
            wait_for_port(client, timeout=15)
        yield [f"nats://127.0.0.1:{client}" for client, _, _ in ports]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)


def _url(url: str, user: str) -> str:
    password = NATS_PASSWORDS[f"NATS_{user.removesuffix('-svc').upper()}_PASSWORD"]
    return url.replace("nats://", f"nats://{user}:{password}@")


async def test_nats_cluster_replicates_streams_and_enforces_publish_rights(
    nats_cluster: list[str],
) -> None:
    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    def connect(node: str, user: str, **kwargs: Any) -> Any:
        return nats.connect(_url(node, user), inbox_prefix=f"_INBOX_{user}", **kwargs)

    provisioner = await connect(nats_cluster[2], "provisioner")
    contracts = await connect(nats_cluster[0], "contracts-svc")
    billing = await connect(nats_cluster[1], "billing-svc", error_cb=on_error)
    try:
        pjs = provisioner.jetstream()
        for _ in range(240):  # the meta leader is elected a few seconds after start
            try:
                info = await pjs.add_stream(
                    StreamConfig(name="CONTRACTS", subjects=["contract.>"], num_replicas=3)
                )
                break
            except nats.errors.Error:
                await asyncio.sleep(0.25)
        else:
            raise AssertionError("no JetStream meta leader")
        assert info.config.num_replicas == 3
        await pjs.add_consumer(
            "CONTRACTS",
            ConsumerConfig(name="billing-contracts", durable_name="billing-contracts",
                           ack_policy=AckPolicy.EXPLICIT, filter_subjects=["contract.>"]),
        )  # fmt: skip
        ack = await contracts.jetstream().publish(
            "contract.ended", b"{}", headers={"Nats-Msg-Id": uuid.uuid4().hex}
        )
        assert ack.stream == "CONTRACTS"
        # billing-svc, connected to another node, may read the stream but not publish to it
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await billing.jetstream().publish("contract.ended", b"{}", timeout=1.0)
        assert any("permissions violation" in str(e).lower() for e in errors)
        state = await billing.jetstream().stream_info("CONTRACTS")
        assert state.state.messages == 1
        # …and consume it through its own durable
        sub = await billing.jetstream().pull_subscribe_bind(
            durable="billing-contracts", stream="CONTRACTS"
        )
        [msg] = await sub.fetch(1, timeout=10)
        assert msg.subject == "contract.ended"
        await msg.ack_sync()
        assert state.cluster is not None
        assert len(state.cluster.replicas or []) == 2  # the leader plus two replicas
    finally:
        await contracts.close()
        await billing.close()
        await provisioner.close()


async def test_postgres_init_script_creates_one_private_database_per_service(
    pg: PostgresServer,
) -> None:
    env = {
        **os.environ,
        "PATH": f"{pg.bin}:{os.environ['PATH']}",
        "PGHOST": "127.0.0.1",
        "PGPORT": str(pg.port),
        "POSTGRES_USER": "postgres",
        "POSTGRES_DB": "postgres",
        **{f"PRISME_{s.name.upper()}_DB_PASSWORD": f"db-{s.name}" for s in SERVICES},
    }
    script = str(DEPLOY / "postgres" / "init-databases.sh")
    for _ in range(2):  # idempotent
        done = await asyncio.to_thread(
            subprocess.run, ["bash", script], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    conn = await asyncpg.connect(pg.admin_dsn)
    try:
        rows = await conn.fetch(
            "SELECT d.datname, r.rolname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba"
        )
    finally:
        await conn.close()
    owners = {row["datname"]: row["rolname"] for row in rows}
    for spec in SERVICES:
        assert owners[spec.name] == spec.name
    own = await asyncpg.connect(pg.dsn("contracts").replace("postgres@", "contracts@"))
    await own.execute("CREATE TABLE IF NOT EXISTS probe (id int)")  # the owner may migrate
    await own.close()
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await asyncpg.connect(pg.dsn("billing").replace("postgres@", "contracts@"))


def test_entrypoint_reads_secrets_from_files(tmp_path: Path) -> None:
    (tmp_path / "showenv.py").write_text(
        "import os\nprint(os.environ.get('PRISME_JWT_PUBLIC_KEY'))\n"
        "print(os.environ.get('PRISME_JWT_PUBLIC_KEY_FILE'))\n"
    )
    (tmp_path / "key.pem").write_text("-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "PRISME_JWT_PUBLIC_KEY_FILE": str(tmp_path / "key.pem")}  # fmt: skip
    done = subprocess.run(["sh", str(DEPLOY / "entrypoint.sh"), "showenv"], env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "-----BEGIN PUBLIC KEY-----",
        "abc",
        "-----END PUBLIC KEY-----",
        "None",
    ]


DEV = DEPLOY / "overlays" / "dev"


def _dev_sandboxes() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEV / "sandboxes.yaml").read_text()) if d]


def test_kubernetes_manifests_cover_the_table() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    docs = []
    for resource in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((DEPLOY / resource).read_text()) if d]
    docs += _dev_sandboxes()  # the sandboxes run in the development overlay only
    for generator in kustomization["configMapGenerator"]:
        for file in generator["files"]:
            assert (DEPLOY / file).exists(), file
    for doc in docs:
        assert doc["apiVersion"]
        assert doc["metadata"]["name"]
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    containers = {
        c["name"]: c
        for d in deployments.values()
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    for spec in PROCESSES:
        if spec.kind == "store":
            # A store runs beside the service that owns its files (the repository server
            # shares backup-svc's volume); it is ready once it accepts connections.
            container = containers[spec.name]
            assert container["args"][0] == spec.module
            assert container["ports"][0]["containerPort"] == spec.port
            assert container["readinessProbe"]["tcpSocket"]["port"] == spec.port
            continue
        container = deployments[spec.name]["spec"]["template"]["spec"]["containers"][0]
        assert container["args"][0] == spec.module
        assert container["ports"][0]["containerPort"] == spec.port
        assert container["readinessProbe"]["httpGet"]["path"] == spec.probe
    nats_set = next(d for d in docs if d["kind"] == "StatefulSet")
    assert nats_set["spec"]["replicas"] == 3
    # issue 17: two of each service; a service whose replicas share files mounts a claim
    # every replica can write (the sandboxes keep their state in memory: one each)
    claims = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PersistentVolumeClaim"}
    for spec in PROCESSES:
        if spec.kind == "store":
            continue
        deployment = deployments[spec.name]["spec"]
        assert deployment["replicas"] == (2 if spec.kind == "service" else 1), spec.name
        for volume in deployment["template"]["spec"].get("volumes", []):
            claim = volume.get("persistentVolumeClaim")
            if claim:
                assert claims[claim["claimName"]]["spec"]["accessModes"] == ["ReadWriteMany"]
    for name in ("video", "backup"):
        volumes = deployments[name]["spec"]["template"]["spec"]["volumes"]
        data = next(v for v in volumes if v["name"] == "data")
        assert data["persistentVolumeClaim"]["claimName"] == f"prisme-{name}-data"


def _k8s_docs() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    docs: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((DEPLOY / resource).read_text()) if d]
    return docs


def test_only_the_dashboard_mounts_the_signing_key() -> None:
    """DESIGN §7: in production only the dashboard holds the signing key; every other
    service gets the public key alone (verification)."""
    services = compose()["services"]
    holders = {
        name
        for name, svc in services.items()
        for volume in svc.get("volumes", [])
        if str(volume).split(":")[0] == "keys"
    }
    assert holders == {"keys", "dashboard"}  # the one-shot generator and the issuer
    for name, svc in services.items():
        env = svc.get("environment", {})
        if name != "dashboard":
            assert not any("SIGNING_KEY" in k for k in env), name
        public = env.get("PRISME_JWT_PUBLIC_KEY_FILE")
        if public is not None and name != "dashboard":
            assert any(str(v).startswith("public-key:/keys") for v in svc.get("volumes", [])), name
    for doc in _k8s_docs():
        if doc["kind"] != "Deployment":
            continue
        name = doc["metadata"]["name"]
        pod = doc["spec"]["template"]["spec"]
        for container in pod["containers"]:
            text = yaml.safe_dump(container)
            if name != "dashboard":
                assert "SIGNING_KEY" not in text, name
                assert "prisme-dashboard" not in text, name
        for volume in pod.get("volumes", []):
            if name != "dashboard":
                assert "platform.key" not in yaml.safe_dump(volume), name


def test_compose_publishes_no_database_or_bus_port() -> None:
    services = compose()["services"]
    for name in ("postgres", "nats-1", "nats-2", "nats-3"):
        assert "ports" not in services[name], name


def test_the_image_is_built_from_the_lock_file() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    syncs = [line for line in dockerfile.splitlines() if "uv sync" in line]
    assert syncs
    assert all("--locked" in line for line in syncs)
    # pinned base images (a tag with a version, never latest)
    for line in dockerfile.splitlines():
        if line.startswith("FROM "):
            image = line.split()[1]
            assert ":" in image
            assert not image.endswith(":latest")


def test_the_lock_file_is_current() -> None:
    """What ``uv sync --locked`` in the image needs: uv.lock matches every pyproject.toml."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    done = subprocess.run(
        [uv, "lock", "--check", "--offline"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_only_the_edge_is_reachable_from_outside_the_namespace() -> None:
    docs = _k8s_docs()
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    deny = [p for p in policies if p["spec"]["podSelector"] == {} and "ingress" not in p["spec"]]
    assert deny, "no default-deny ingress policy"
    ports_of = {
        d["metadata"]["labels"]["app"]: {
            p["containerPort"]
            for c in d["spec"]["template"]["spec"]["containers"]
            for p in c.get("ports", [])
        }
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
    }
    outside: dict[str, set[int]] = {}
    for policy in policies:
        spec = policy["spec"]
        selector = spec["podSelector"]
        apps = set(ports_of)
        if selector:
            (expression,) = selector["matchExpressions"]
            assert expression["key"] == "app"
            assert expression["operator"] == "In"
            apps = set(expression["values"])
        for rule in spec.get("ingress", []):
            sources = rule.get("from")
            if sources and all(set(s) == {"podSelector"} for s in sources):
                continue  # pods of the namespace only
            ports = {p["port"] for p in rule.get("ports", [])}
            assert ports, f"{policy['metadata']['name']} opens every port to the outside"
            for app in apps:
                outside.setdefault(app, set()).update(ports & ports_of[app])
    assert {app: ports for app, ports in outside.items() if ports} == {
        "dashboard": {8000},
        "video": {8004},
        "billing": {8002},
        "backup": {8005, 8007},
    }


def test_kubernetes_manifests_validate_against_the_kubernetes_schemas() -> None:
    """kubernetes-validate (its schemas ship with the package: no network), strict: an unknown
    or misspelt field fails too."""
    version = kubernetes_validate.latest_version()
    for doc in _k8s_docs():
        kubernetes_validate.validate(doc, version, strict=True)
    broken = next(d for d in _k8s_docs() if d["kind"] == "Deployment")
    broken = {**broken, "spec": {**broken["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)


def test_compose_file_validates_against_the_compose_spec(tmp_path: Path) -> None:
    """check-jsonschema with its vendored compose-spec schema (no network)."""

    def check(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "check_jsonschema", "--builtin-schema",
             "vendor.compose-spec", str(path)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip

    done = check(ROOT / "docker-compose.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    broken = compose()
    broken["services"]["contracts"]["restart"] = {"always": True}
    (tmp_path / "compose.yml").write_text(yaml.safe_dump(broken))
    assert check(tmp_path / "compose.yml").returncode != 0


def test_sandboxes_run_only_in_the_development_overlay() -> None:
    base = _k8s_docs()
    text = yaml.safe_dump_all(base)
    assert "sandbox" not in text  # no stand-in and no URL of one in what production applies
    assert all(
        env["value"] == "production"
        for d in base
        if d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
        for env in c.get("env", [])
        if env["name"] == "PRISME_ENV"
    )
    overlay = yaml.safe_load((DEV / "kustomization.yaml").read_text())
    assert overlay["resources"][0] == "../.."
    for resource in overlay["resources"][1:]:
        assert (DEV / resource).exists(), resource
    patched = {}
    for patch in overlay["patches"]:
        for doc in yaml.safe_load_all((DEV / patch["path"]).read_text()):
            [container] = doc["spec"]["template"]["spec"]["containers"]
            patched[doc["metadata"]["name"]] = {e["name"]: e["value"] for e in container["env"]}
    assert all(env["PRISME_ENV"] == "development" for env in patched.values())
    assert "stripe-sandbox" in patched["billing"]["PRISME_BILLING_STRIPE_API_BASE"]
    assert "graph-sandbox" in patched["licence"]["PRISME_LICENCE_GRAPH_BASE_URL"]
    names = {d["metadata"]["name"] for d in _dev_sandboxes() if d["kind"] == "Deployment"}
    assert names == {spec.name for spec in SANDBOXES}
    version = kubernetes_validate.latest_version()
    for doc in _dev_sandboxes():
        kubernetes_validate.validate(doc, version, strict=True)


def test_compose_has_no_default_password() -> None:
    """Every password and secret is required (``${NAME:?…}``), none defaulted (``${NAME:-…}``);
    .env.example lists them all with development values."""
    text = (ROOT / "docker-compose.yml").read_text()
    defaulted = re.findall(r"\$\{([A-Z0-9_]*(?:PASSWORD|SECRET|KEY|TOKEN)[A-Z0-9_]*):-", text)
    assert defaulted == []
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    assert {"POSTGRES_PASSWORD", "NATS_ROUTE_PASSWORD", "NATS_BILLING_PASSWORD"} <= required
    example = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert required <= example
