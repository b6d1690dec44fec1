"""Test restore (K2): restore a sample of a snapshot's files and compare them by SHA-256."""

from __future__ import annotations

import asyncio
import hashlib
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .restic import Entry, Restic

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class RestoreCheck:
    ok: bool
    sampled: int
    compared: int
    mismatches: tuple[str, ...]
    detail: str


def _unchanged(entry: Entry, source: Path) -> bool:
    """The source file still is what the snapshot saw (same size and mtime)."""
    try:
        st = source.stat()
    except OSError:
        return False
    if st.st_size != entry.size or entry.mtime is None:
        return False
    return abs(st.st_mtime - entry.mtime.timestamp()) < 1e-3


async def restore_sample(
    restic: Restic,
    snapshot_id: str,
    *,
    sample: int = 5,
    seed: int | None = None,
    max_bytes: int = 256 << 20,
) -> RestoreCheck:
    """Restore up to ``sample`` files of ``snapshot_id`` and compare each with its source.

    Only files whose source is unchanged since the snapshot are sampled, so a file edited after
    the copy is never reported as a bad restore."""
    entries = [e for e in await restic.ls(snapshot_id) if e.type == "file"]
    candidates = [e for e in entries if _unchanged(e, Path(e.path)) and e.size <= max_bytes]
    rng = random.Random(seed)
    picked = rng.sample(candidates, min(sample, len(candidates)))
    if not picked:
        return RestoreCheck(True, 0, 0, (), "no unchanged file to sample")
    with tempfile.TemporaryDirectory(prefix="prisme-restore-") as tmp:
        target = Path(tmp)
        await restic.restore(snapshot_id, target, include=[e.path for e in picked])
        mismatches: list[str] = []
        for entry in picked:
            restored = target / entry.path.lstrip("/")
            if not restored.exists():
                mismatches.append(f"{entry.path}: missing from the restore")
                continue
            got, want = await asyncio.gather(
                asyncio.to_thread(sha256_file, restored),
                asyncio.to_thread(sha256_file, Path(entry.path)),
            )
            if got != want:
                mismatches.append(f"{entry.path}: sha256 {got} != {want}")
    ok = not mismatches
    detail = (
        f"{len(picked)} file(s) restored and matched by SHA-256"
        if ok
        else "; ".join(mismatches)[:2000]
    )
    return RestoreCheck(ok, len(entries), len(picked), tuple(mismatches), detail)
