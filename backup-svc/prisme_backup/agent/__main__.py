"""``prisme-backup-agent``: enrol once, then run the daily copy."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import datetime
from pathlib import Path

from .client import AgentRefused
from .config import AgentConfig
from .service import daemon, enrol, run_and_report


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="prisme-backup-agent")
    p.add_argument("--config", type=Path, default=Path("/etc/prisme-backup-agent.json"))
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("enrol", help="enrol with a one-time token")
    e.add_argument("--server", required=True)
    e.add_argument("--token-file", type=Path, required=True, help="file holding the token")
    e.add_argument("--staging-dir", type=Path, required=True)
    e.add_argument("--pg-dump", default="pg_dump")
    e.add_argument("--restic", default="restic")
    e.add_argument("--hostname")
    r = sub.add_parser("run", help="run one copy now")
    r.add_argument("--time", type=datetime.fromisoformat, help="back-date the snapshot")
    sub.add_parser("daemon", help="run every day at the plan's time")
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = _parser().parse_args(argv)
    try:
        if args.command == "enrol":
            fields = {
                "server_url": args.server,
                "staging_dir": args.staging_dir,
                "pg_dump": args.pg_dump,
                "restic": args.restic,
            }
            # The administrator may have listed the local databases already: keep them.
            if args.config.exists():
                config = AgentConfig.load(args.config).model_copy(update=fields)
            else:
                config = AgentConfig.model_validate(fields)
            token = args.token_file.read_text().strip()
            config = asyncio.run(enrol(args.config, config, token, args.hostname))
            print(f"enrolled as agent {config.agent_id}")
        elif args.command == "run":
            outcome = asyncio.run(run_and_report(args.config, snapshot_time=args.time))
            print(f"{outcome.run.status} {outcome.run.snapshot_id or ''} {outcome.run.error or ''}")
            return 0 if outcome.run.status == "succeeded" else 1
        else:
            asyncio.run(daemon(args.config))
    except AgentRefused as exc:
        print(f"refused by backup-svc: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
