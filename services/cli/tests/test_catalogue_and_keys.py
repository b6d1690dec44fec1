"""The service table, the data dir's key material and `prisme token`."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from prisme_chassis.auth import Authenticator
from prisme_chassis.errors import DomainError
from prisme_cli.catalogue import PROCESSES, parse_replicas, select, with_replicas
from prisme_cli.datadir import DataDir

DESIGN_PORTS = {
    "dashboard": 8000,
    "contracts": 8001,
    "billing": 8002,
    "licence": 8003,
    "video": 8004,
    "backup": 8005,
    "webhooks": 8006,
    "graph-sandbox": 8010,
    "stripe-sandbox": 8011,
    "mail-sandbox": 8012,
    "backup-repository": 8007,
}


def test_table_matches_design_ports_and_conventions() -> None:
    assert {spec.name: spec.port for spec in PROCESSES} == DESIGN_PORTS
    for spec in PROCESSES:
        if spec.kind == "service":
            assert spec.module == f"prisme_{spec.name}"
            assert spec.probe == "/readyz"
            assert spec.database_env == f"PRISME_{spec.name.upper()}_DATABASE_URL"
        elif spec.kind == "store":
            assert spec.database is None
            assert spec.nats_user is None
        else:
            assert spec.probe == "/healthz"
            assert spec.database is None


SERVICE_NAMES = ("contracts", "billing", "licence", "video", "backup", "webhooks")


def test_the_dashboard_comes_first_and_alone_reads_the_signing_key() -> None:
    assert PROCESSES[0].name == "dashboard"
    ports = {f"{name}_port": str(9000 + n) for n, name in enumerate(SERVICE_NAMES, start=1)}
    context = {"platform_key_file": "/data/keys/platform.key", **ports}
    env = PROCESSES[0].render_env(context)
    assert env.pop("PRISME_DASHBOARD_SIGNING_KEY_FILE") == "/data/keys/platform.key"
    # the pages call each service at the port this run gave it
    assert env == {
        f"PRISME_DASHBOARD_{name.upper()}_URL": f"http://127.0.0.1:{ports[name + '_port']}"
        for name in SERVICE_NAMES
    }
    others = [spec for spec in PROCESSES[1:] if "{platform_key_file}" in str(spec.env)]
    assert others == []


def test_sandbox_urls_and_the_shared_webhook_secret_reach_the_services() -> None:
    context = {"port": "9011", "billing_port": "9002", "stripe_sandbox_port": "9011",
               "graph_sandbox_port": "9010", "stripe_webhook_secret": "whsec_abc",
               "mail_sandbox_smtp_port": "9025"}  # fmt: skip
    stripe = select(["stripe-sandbox"])[0]
    args = stripe.render_args(context)
    assert args[args.index("--webhook-url") + 1] == "http://127.0.0.1:9002/v1/webhooks/stripe"
    assert "whsec_abc" not in args  # never on a command line
    assert stripe.render_env(context)["PRISME_STRIPE_SANDBOX_WEBHOOK_SECRET"] == "whsec_abc"
    billing = select(["billing"])[0].render_env(context)
    assert billing["PRISME_BILLING_STRIPE_WEBHOOK_SECRET"] == "whsec_abc"
    assert billing["PRISME_BILLING_STRIPE_API_BASE"] == "http://127.0.0.1:9011"
    # B11: billing's documents and webhooks' alerts go through the same relay (the sandbox)
    for name in ("billing", "webhooks"):
        env = select([name])[0].render_env(context)
        assert (env["PRISME_SMTP_HOST"], env["PRISME_SMTP_PORT"]) == ("127.0.0.1", "9025")
    licence = select(["licence"])[0].render_env(context)
    assert licence["PRISME_LICENCE_GRAPH_BASE_URL"] == "http://127.0.0.1:9010/v1.0"
    assert licence["PRISME_LICENCE_GRAPH_TOKEN_URL"] == (
        "http://127.0.0.1:9010/{tenant}/oauth2/v2.0/token"
    )


def test_select_keeps_table_order_and_refuses_unknown_names() -> None:
    assert [s.name for s in select(["video", "contracts"])] == ["contracts", "video"]
    with pytest.raises(ValueError, match=r"contract\b"):
        select(["contract"])


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keypair_is_generated_once_private_and_signs_the_admin_token(tmp_path: Path) -> None:
    data_dir = DataDir.at(tmp_path / "d")
    data_dir.prepare()
    public = data_dir.ensure_keypair()
    assert data_dir.ensure_keypair() == public  # reused, not regenerated
    assert _mode(data_dir.private_key) == 0o600
    token = data_dir.ensure_admin_token()
    assert _mode(data_dir.admin_token) == 0o600
    assert data_dir.admin_token.read_text().strip() == token
    principal = Authenticator(public).verify(token)
    assert principal.scopes == frozenset({"admin"})
    assert principal.has("billing:write")


def test_token_from_another_key_is_refused(tmp_path: Path) -> None:
    first, second = DataDir.at(tmp_path / "a"), DataDir.at(tmp_path / "b")
    for d in (first, second):
        d.prepare()
    first.ensure_keypair()
    other_public = second.ensure_keypair()
    token = first.mint(sub="op-x", scopes=["admin"])
    with pytest.raises(DomainError):
        Authenticator(other_public).verify(token)


def test_secret_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    data_dir = DataDir.at(tmp_path)
    data_dir.prepare()
    secret = data_dir.ensure_secret("stripe-webhook-secret", prefix="whsec_")
    assert secret.startswith("whsec_")
    assert len(secret) > 40
    assert data_dir.ensure_secret("stripe-webhook-secret", prefix="whsec_") == secret
    assert _mode(data_dir.secrets / "stripe-webhook-secret") == 0o600


def _prisme(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prisme_cli", *args], capture_output=True, text=True, timeout=60,
        env=env,
    )  # fmt: skip


def test_prisme_token_mints_with_the_data_dir_key(tmp_path: Path) -> None:
    data_dir = DataDir.at(tmp_path)
    data_dir.prepare()
    public = data_dir.ensure_keypair()
    done = _prisme("token", "--data-dir", str(tmp_path), "--scopes", "billing:read,videos:write",
                   "--sub", "op-alice", "--name", "Alice")  # fmt: skip
    assert done.returncode == 0, done.stderr
    principal = Authenticator(public).verify(done.stdout.strip())
    assert principal.sub == "op-alice"
    assert principal.name == "Alice"
    assert principal.scopes == frozenset({"billing:read", "videos:write"})
    assert not principal.has("billing:write")


def test_prisme_token_without_a_key_says_how_to_get_one(tmp_path: Path) -> None:
    done = _prisme("token", "--data-dir", str(tmp_path / "empty"))
    assert done.returncode == 2
    assert "prisme up" in done.stderr
    assert done.stdout == ""


def test_prisme_token_is_refused_in_production(tmp_path: Path) -> None:
    data_dir = DataDir.at(tmp_path)
    data_dir.prepare()
    data_dir.ensure_keypair()
    env = {**os.environ, "PRISME_ENV": "production"}
    done = _prisme("token", "--data-dir", str(tmp_path), env=env)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "dashboard" in done.stderr


def test_nats_passwords_are_per_service_stable_and_private(tmp_path: Path) -> None:
    data_dir = DataDir.at(tmp_path)
    data_dir.prepare()
    users = [spec.nats_user for spec in PROCESSES if spec.nats_user]
    assert users == [
        "dashboard",
        *(f"{name}-svc" for name in ("contracts", "billing", "licence", "video", "backup")),
        "webhooks",  # the webhooks dispatcher: the WEBHOOKS stream's user
    ]
    first = data_dir.ensure_nats_passwords(users)
    assert set(first) == {*users, "admin"}  # the runner adds "provisioner" itself
    assert len(set(first.values())) == len(first)
    assert data_dir.ensure_nats_passwords(users) == first
    assert _mode(data_dir.secrets / "nats-passwords.json") == 0o600


def test_prisme_init_creates_the_key_pair_and_an_admin_token_once(tmp_path: Path) -> None:
    done = _prisme("init", "--data-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    public = (tmp_path / "keys" / "platform.pub").read_text()
    token = (tmp_path / "admin-token").read_text().strip()
    assert Authenticator(public).verify(token).scopes == frozenset({"admin"})
    assert _prisme("init", "--data-dir", str(tmp_path)).returncode == 0
    assert (tmp_path / "keys" / "platform.pub").read_text() == public


def test_mail_sandbox_gets_its_smtp_port_from_the_run() -> None:
    from prisme_cli.runner import assign_ports, template_context

    mail = select(["mail-sandbox"])
    defaults = assign_ports(mail, free_ports=False)
    assert defaults == {"mail-sandbox": 8012, "mail-sandbox:smtp": 2525}
    free = assign_ports(mail, free_ports=True)
    context = {**template_context(free, "whsec_x"), "port": str(free["mail-sandbox"])}
    args = mail[0].render_args(context)
    assert args == [
        "--port",
        str(free["mail-sandbox"]),
        "--smtp-port",
        str(free["mail-sandbox:smtp"]),
    ]


def test_replicas_share_the_service_but_not_the_port_or_the_log() -> None:
    assert parse_replicas("licence=2, billing=3") == {"licence": 2, "billing": 3}
    assert parse_replicas("") == {}
    specs = with_replicas(select(None), {"licence": 2, "billing": 3})
    names = [s.name for s in specs]
    assert names[names.index("billing") : names.index("billing") + 3] == [
        "billing",
        "billing-2",
        "billing-3",
    ]
    second = next(s for s in specs if s.name == "licence-2")
    first = next(s for s in specs if s.name == "licence")
    assert (second.port, second.service, second.env_prefix) == (8103, "licence", "PRISME_LICENCE")
    assert (second.database, second.nats_user, second.module) == (
        first.database,
        first.nats_user,
        first.module,
    )
    assert second.database_env == "PRISME_LICENCE_DATABASE_URL"
    assert len({s.port for s in specs}) == len(specs)
