"""The restic REST server the agents write to: ``rclone serve restic`` (Debian's ``rclone``).

``--private-repos``: user ``u`` reaches only ``/u/``; ``--append-only``: nothing can be
deleted or overwritten (restic's lock files excepted), so an agent cannot forget, prune or
destroy its own history, let alone another practice's (DESIGN.md K1, R8). ``--htpasswd``: the
users file backup-svc writes, one user per plan (rclone re-reads it when it changes). In
production it listens behind a TLS-terminating proxy (or with ``--cert``/``--key``), and can
serve a bucket instead of a directory (``root`` = an rclone remote such as ``s3:bucket/prisme``).
"""

from __future__ import annotations

from pathlib import Path


def command(
    *, root: str | Path, users_file: str | Path, addr: str, rclone: str = "rclone"
) -> list[str]:
    """The server's argv; ``addr`` is ``host:port``."""
    return [
        rclone,
        "serve",
        "restic",
        "--append-only",
        "--private-repos",
        "--htpasswd",
        str(users_file),
        "--addr",
        addr,
        str(root),
    ]


def prepare(root: Path, users_file: Path) -> None:
    """The directory and an empty users file (rclone refuses to start without one)."""
    root.mkdir(parents=True, exist_ok=True)
    users_file.parent.mkdir(parents=True, exist_ok=True)
    if not users_file.exists():
        users_file.touch(mode=0o640)
