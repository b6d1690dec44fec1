"""`prisme`: run the platform locally and operate it.

prisme up [--data-dir ./.prisme] [--only contracts,billing,...] [--free-ports]
          [--replicas licence=2,billing=2]
prisme status [--json]
prisme down
prisme clock travel 2027-01-01T00:00:05+04:00 | prisme clock reset
prisme token [--scopes contracts:read,billing:read] [--sub op-alice] [--ttl-hours 12]
prisme operators add EMAIL --role ROLE [--name NAME] | list | disable EMAIL | enable EMAIL
                 | reset-password EMAIL
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from datetime import timedelta
from pathlib import Path

from . import clock_cmd, operators
from .catalogue import PROCESSES, parse_replicas
from .control import down, status
from .datadir import DataDir
from .runner import UpOptions, up

DEFAULT_DATA_DIR = os.environ.get("PRISME_CLI_DATA_DIR", "./.prisme")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="prisme", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def with_data_dir(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument(
            "--data-dir",
            type=Path,
            default=Path(DEFAULT_DATA_DIR),
            help="where data, logs, keys and the state file live (default: ./.prisme)",
        )
        return sub

    names = ", ".join(spec.name for spec in PROCESSES)
    run = with_data_dir(commands.add_parser("up", help="run the whole platform until Ctrl-C"))
    run.add_argument("--only", help=f"comma-separated subset of: {names}")
    run.add_argument(
        "--free-ports",
        action="store_true",
        help="pick free ports instead of the defaults (8000-8006, 8010-8012, SMTP 2525, NATS 4222)",
    )
    run.add_argument(
        "--replicas",
        default=os.environ.get("PRISME_REPLICAS", ""),
        help="run services as several replicas on the same PostgreSQL and NATS, e.g. "
        "licence=2,billing=2 (replica n listens on the service's port + 100 × (n-1)); "
        "default $PRISME_REPLICAS",
    )
    run.add_argument(
        "--ready-timeout", type=float, default=60.0, help="seconds to wait for readiness"
    )
    run.add_argument(
        "--no-fork",
        action="store_true",
        help="start each service in a fresh interpreter instead of forking the runner "
        "(more memory; for debugging the start-up of a service)",
    )
    run.add_argument(
        "--grace", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL on stop"
    )

    show = with_data_dir(commands.add_parser("status", help="what runs and whether it is ready"))
    show.add_argument("--json", action="store_true", help="machine-readable output")

    with_data_dir(commands.add_parser("down", help="stop a running (or crashed) `prisme up`"))

    with_data_dir(
        commands.add_parser("init", help="create the platform key pair and an admin token")
    )

    ops = with_data_dir(
        commands.add_parser(
            "operators",
            help="dashboard operators: add EMAIL --role ROLE [--name NAME] | list | disable "
            "EMAIL | enable EMAIL | reset-password EMAIL (prints one-time passwords)",
        )
    )
    ops.add_argument("args", nargs=argparse.REMAINDER, help="the operators subcommand")

    moves = commands.add_parser(
        "clock", help="move every service's clock (development and test only)"
    ).add_subparsers(dest="clock_command", required=True)
    go = with_data_dir(moves.add_parser("travel", help="every service reads INSTANT from now on"))
    go.add_argument("instant", help="ISO 8601 with a time zone, e.g. 2027-01-01T00:00:05+04:00")
    with_data_dir(moves.add_parser("reset", help="every service back to the system time"))

    token = with_data_dir(commands.add_parser("token", help="mint a token with the platform key"))
    token.add_argument("--scopes", default="admin", help="comma-separated scopes (default admin)")
    token.add_argument("--sub", default="op-cli", help="operator id recorded in audit trails")
    token.add_argument("--name", default=None, help="display name")
    token.add_argument("--ttl-hours", type=float, default=12.0, help="validity in hours")
    return parser


def main(argv: list[str] | None = None) -> int:
    # pgserver's import asks platformdirs for a runtime dir it never uses
    warnings.filterwarnings("ignore", module=r"platformdirs\..*")
    args = _parser().parse_args(argv)
    data_dir = DataDir.at(args.data_dir)
    if args.command == "up":
        only = args.only.split(",") if args.only else None
        try:
            replicas = parse_replicas(args.replicas)
        except ValueError as exc:
            print(f"[prisme] {exc}", file=sys.stderr)
            return 2
        return up(
            UpOptions(
                data_dir=data_dir.root,
                only=only,
                free_ports=args.free_ports,
                replicas=replicas,
                ready_timeout=args.ready_timeout,
                grace=args.grace,
                fork=not args.no_fork,
            )
        )
    if args.command == "status":
        return status(data_dir, sys.stdout, as_json=args.json)
    if args.command == "down":
        return down(data_dir, sys.stdout)
    if args.command == "init":
        data_dir.prepare()
        data_dir.ensure_keypair()
        data_dir.ensure_admin_token()
        print(f"public key:  {data_dir.public_key}")
        print(f"admin token: {data_dir.admin_token}")
        return 0
    if args.command == "operators":
        return operators.run(data_dir, list(args.args))
    if args.command == "clock":
        try:
            if args.clock_command == "travel":
                clock_cmd.travel(data_dir, args.instant, sys.stdout)
            else:
                clock_cmd.reset(data_dir, sys.stdout)
        except (clock_cmd.ClockRefusedError, ValueError) as exc:
            print(f"prisme clock: {exc}", file=sys.stderr)
            return 2
        return 0
    if args.command == "token":
        if os.environ.get("PRISME_ENV") == "production":
            # DESIGN §7: in production only the dashboard signs (operators' 5-minute tokens,
            # integration tokens an admin creates and can revoke)
            print(
                "prisme token is a development tool: in production tokens come from the "
                "dashboard (integration tokens: /admin/tokens)",
                file=sys.stderr,
            )
            return 2
        scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
        try:
            minted = data_dir.mint(
                sub=args.sub, scopes=scopes, name=args.name, ttl=timedelta(hours=args.ttl_hours)
            )
        except FileNotFoundError as exc:
            print(exc, file=sys.stderr)
            return 2
        print(minted)
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
