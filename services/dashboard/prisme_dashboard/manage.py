"""``python -m prisme_dashboard.manage``: operators from the command line (local mode).

Talks to the dashboard's own database (``PRISME_DASHBOARD_DATABASE_URL``), applying its
migrations first; `prisme operators …` runs it with the URL of the platform `prisme up` runs.
The one-time passwords it prints are shown once and stored only as Argon2id hashes.

    operators add EMAIL --role ROLE [--role ROLE…] [--name NAME]
    operators list [--json]
    operators disable EMAIL
    operators enable EMAIL
    operators reset-password EMAIL
    bootstrap --email EMAIL [--name NAME] --json     (first admin of an empty table)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import asyncpg
from prisme_chassis.audit import Actor
from prisme_chassis.db import connect, create_pool, migrate_service
from prisme_chassis.errors import DomainError

from . import operators
from .operators import Operator

MIGRATIONS = Path(__file__).parent / "migrations"
CLI_ACTOR = Actor(sub="system:cli", name="ligne de commande")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prisme operators", description="PRISME operators")
    commands = parser.add_subparsers(dest="command", required=True)
    ops = commands.add_parser("operators").add_subparsers(dest="action", required=True)
    add = ops.add_parser("add", help="create an operator; prints a one-time password")
    add.add_argument("email")
    add.add_argument(
        "--role", action="append", required=True, help="admin, technician or accountant"
    )
    add.add_argument("--name", default=None)
    listing = ops.add_parser("list", help="every operator, with roles and status")
    listing.add_argument("--json", action="store_true")
    for action, text in (
        ("disable", "disable an operator and end its sessions"),
        ("enable", "enable a disabled operator"),
        ("reset-password", "a new one-time password; open sessions end"),
    ):
        ops.add_parser(action, help=text).add_argument("email")
    boot = commands.add_parser("bootstrap", help="create the first admin when there is none")
    boot.add_argument("--email", required=True)
    boot.add_argument("--name", default="Administrateur")
    boot.add_argument("--json", action="store_true")
    return parser


def _describe(op: Operator) -> dict[str, Any]:
    return {
        "id": str(op.id),
        "email": op.email,
        "name": op.name,
        "roles": list(op.roles),
        "status": op.status,
        "must_change_password": op.must_change_password,
        "totp": op.totp_enabled,
    }


async def _run(args: argparse.Namespace, dsn: str, out: TextIO) -> int:
    pool = await create_pool(dsn, max_size=1)
    try:
        await migrate_service(pool, "dashboard", MIGRATIONS)
    finally:
        await pool.close()
    conn = await connect(dsn)
    try:
        async with conn.transaction():
            return await _dispatch(conn, args, out)
    finally:
        await conn.close()


async def _dispatch(conn: asyncpg.Connection, args: argparse.Namespace, out: TextIO) -> int:
    now = datetime.now(UTC)
    if args.command == "bootstrap":
        created = await operators.bootstrap_admin(conn, email=args.email, name=args.name)
        result: dict[str, Any] = {"created": created is not None}
        if created is not None:
            result |= {"email": created[0].email, "password": created[1]}
        print(json.dumps(result), file=out)
        return 0
    action: str = args.action
    if action == "add":
        op, password = await operators.create(
            conn, email=args.email, role_names=args.role, name=args.name, actor=CLI_ACTOR
        )
        print(f"opérateur créé : {op.email} ({', '.join(op.roles)})", file=out)
        print(f"mot de passe initial (affiché une seule fois) : {password}", file=out)
        return 0
    if action == "list":
        found = await operators.list_all(conn)
        if args.json:
            print(json.dumps([_describe(op) for op in found], indent=2), file=out)
            return 0
        print(f"{'E-MAIL':<32}{'NOM':<24}{'RÔLES':<24}{'STATUT':<10}TOTP", file=out)
        for op in found:
            print(
                f"{op.email:<32}{op.name:<24}{','.join(op.roles):<24}{op.status:<10}"
                f"{'oui' if op.totp_enabled else 'non'}",
                file=out,
            )
        return 0
    target = await operators.find(conn, args.email)
    if action == "disable":
        await operators.disable(conn, target.id, actor=CLI_ACTOR, now=now)
        print(f"opérateur désactivé : {target.email} (sessions terminées)", file=out)
        return 0
    if action == "enable":
        await operators.enable(conn, target.id, actor=CLI_ACTOR)
        print(f"opérateur réactivé : {target.email}", file=out)
        return 0
    if action == "reset-password":
        _, password = await operators.reset_password(conn, target.id, actor=CLI_ACTOR, now=now)
        print(f"nouveau mot de passe (affiché une seule fois) : {password}", file=out)
        return 0
    raise AssertionError(action)


async def execute(argv: list[str], dsn: str, out: TextIO = sys.stdout) -> int:
    """Run one command against the database ``dsn``; 1 with a French message on refusal."""
    args = _parser().parse_args(argv)
    try:
        return await _run(args, dsn, out)
    except DomainError as exc:
        print(f"erreur : {exc.detail or exc.title}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    dsn = os.environ.get("PRISME_DASHBOARD_DATABASE_URL")
    if not dsn:
        print("PRISME_DASHBOARD_DATABASE_URL is not set", file=sys.stderr)
        return 2
    return asyncio.run(execute(sys.argv[1:] if argv is None else argv, dsn))


if __name__ == "__main__":
    sys.exit(main())
