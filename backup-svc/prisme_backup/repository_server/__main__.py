"""``python -m prisme_backup.repository_server``: exec the repository server (``prisme up``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from . import command, prepare


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="prisme_backup.repository_server")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--root", type=Path, required=True, help="the repositories' directory")
    p.add_argument("--users-file", type=Path, required=True, help="htpasswd, backup-svc's")
    p.add_argument("--rclone", default="rclone")
    args = p.parse_args(argv)
    prepare(args.root, args.users_file)
    argv_ = command(
        root=args.root,
        users_file=args.users_file,
        addr=f"{args.host}:{args.port}",
        rclone=args.rclone,
    )
    # exec: the supervisor's pid is rclone's own, its signals reach rclone directly.
    os.execvp(argv_[0], argv_)  # noqa: S606 - argv is ours, no shell


if __name__ == "__main__":
    main()
