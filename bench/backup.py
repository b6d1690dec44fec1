"""P6: the agent's daily run against plain ``restic backup`` on the same data, in one run.

Generates a practice-like share (default 300 MB: large incompressible scans/images plus many
small documents; ``--mb`` to change it), then, each into its own fresh repository:

1. plain ``restic backup`` of the share (the baseline);
2. the agent's daily run on the same share (``prisme_backup.agent.runner.run_once``, the code the
   installed agent runs: restic through the async wrapper with ``--json`` progress parsing; the
   forget/prune, the size probe and the check are backup-svc's maintenance since issue 16);
3. the same two again over the unchanged share (the daily re-check of an unchanged share);
4. with ``--recheck-gb N``: an N GB share backed up once by the agent (untimed), then the
   agent's daily run over it unchanged, ``--runs`` times (P6: 10 GB re-checked in < 30 s).

Prints the figures and the ratios (wall clock; the agent's backup step is timed around the
wrapper's ``restic backup`` call, process start and key derivation included, like the baseline). The test restore is periodic (weekly) and not part of this
daily measure. Usage: ``.venv/bin/python bench/backup.py [--mb 300] [--runs 5] [--recheck-gb 10]`` (the
verdict is the worst run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from datetime import time as dtime
from pathlib import Path

from _runs import Runs, Target, add_runs_argument
from prisme_backup.agent.dumps import DumpRunner
from prisme_backup.agent.protocol import AgentPlan, RepositorySpec
from prisme_backup.agent.restic import Repository, Restic
from prisme_backup.agent.runner import run_once
from prisme_backup.domain import business_day

PASSWORD = uuid.uuid4().hex


def generate(root: Path, megabytes: int) -> int:
    """~85 % in 2–8 MB incompressible files, the rest in 40 KB documents."""
    rng = os.urandom
    total = 0
    big_budget = megabytes * 1_000_000 * 85 // 100
    i = 0
    while total < big_budget:
        size = (2 + i % 7) * 1_000_000
        path = root / "imagerie" / f"patient{i:04d}.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng(size))
        total += size
        i += 1
    j = 0
    line = b"Compte rendu de consultation, cabinet medical, La Reunion. " * 8
    while total < megabytes * 1_000_000:
        path = root / "courriers" / f"{j // 500:02d}" / f"lettre{j:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = line * 80 + rng(2000)
        path.write_bytes(body)
        total += len(body)
        j += 1
    return total


async def plain_backup(repo: Path, cache: Path, share: Path) -> float:
    env = {**os.environ, "RESTIC_PASSWORD": PASSWORD, "RESTIC_REPOSITORY": str(repo)}
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        "restic",
        "--cache-dir",
        str(cache),
        "backup",
        "--host",
        "bench",
        str(share),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(err.decode())
    return time.perf_counter() - start


async def agent_run(
    restic: Restic, plan: AgentPlan, staging: Path
) -> tuple[float, dict[str, float]]:
    """(whole daily run, seconds per step), wall clock."""
    start = time.perf_counter()
    outcome = await run_once(
        plan,
        restic=restic,
        dumps=DumpRunner(),
        local_databases=[],
        staging_dir=staging,
        last_restore_day=business_day(datetime.now(UTC)),  # periodic restore not due today
    )
    whole = time.perf_counter() - start
    if outcome.run.status != "succeeded" or outcome.summary is None:
        raise RuntimeError(outcome.run.error)
    if not all(c.ok for c in outcome.checks):
        raise RuntimeError([c.detail for c in outcome.checks])
    return whole, outcome.timings


async def one_round(work: Path, share: Path, *, agent_first: bool) -> dict[str, float]:
    """Fresh repositories; new data then unchanged data, for plain restic and the agent."""
    await asyncio.to_thread(work.mkdir)
    for repo in ("repo-plain", "repo-agent"):
        env = {**os.environ, "RESTIC_PASSWORD": PASSWORD, "RESTIC_REPOSITORY": str(work / repo)}
        proc = await asyncio.create_subprocess_exec(
            "restic", "init", env=env, stdout=asyncio.subprocess.DEVNULL
        )
        await proc.wait()
    plan = _plan(share, work / "repo-agent")
    restic = Restic(
        Repository(str(work / "repo-agent"), PASSWORD), cache_dir=work / "cache-agent", host="bench"
    )
    # Both repositories exist before the day measured (plain's created above, untimed): the
    # agent saw its own initialised on its first day, and remembers it (restic.init's marker).
    await restic.init()
    staging = work / "staging"
    out: dict[str, float] = {}

    async def plain(key: str) -> None:
        out[key] = await plain_backup(work / "repo-plain", work / "cache-plain", share)

    async def agent(key: str) -> None:
        whole, steps = await agent_run(restic, plan, staging)
        out["whole" + key], out["step" + key] = whole, steps["backup"]
        for name in ("forget", "check", "size"):
            out[f"{name}{key}"] = steps.get(name, 0.0)

    # Alternate who goes first between rounds so neither always gets the warmer caches.
    order = [agent, plain] if agent_first else [plain, agent]
    for step in order:
        await step("1") if step is agent else await step("plain1")
    for step in reversed(order):
        await step("2") if step is agent else await step("plain2")
    shutil.rmtree(work, ignore_errors=True)
    return out


TARGETS = [
    Target("whole_ratio_new", "P6 agent whole daily run / plain restic, new data", at_least=0.9),
    Target(
        "whole_ratio_unchanged",
        "P6 agent whole daily run / plain restic, unchanged",
        at_least=0.9,
    ),
]


RECHECK = [
    Target("recheck_s", "P6 agent daily run over an unchanged large share", below=30.0, unit="s")
]


def _plan(share: Path, repo: Path) -> AgentPlan:
    return AgentPlan(
        plan_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        databases=[],
        share_path=str(share),
        daily_at=dtime(21),
        timezone="Indian/Reunion",
        history_days=30,
        quota_bytes=10**12,
        check_parts=7,
        restore_every_days=7,
        restore_sample=5,
        repository=RepositorySpec(location=str(repo), password=PASSWORD),
    )


async def recheck(gigabytes: int, runs_wanted: int) -> int:
    """The unchanged large share: one first backup (untimed), then the daily runs timed."""
    work = Path(tempfile.mkdtemp(prefix="prisme-bench-recheck-"))
    try:
        share = work / "PARTAGE"
        t0 = time.perf_counter()
        size = await asyncio.to_thread(generate, share, gigabytes * 1000)
        entries = sum(1 for _ in share.rglob("*"))
        print(f"recheck data: {size / 1e9:.1f} GB in {entries} entries "
              f"(generated in {time.perf_counter() - t0:.0f}s)")  # fmt: skip
        restic = Restic(Repository(str(work / "repo"), PASSWORD), cache_dir=work / "cache",
                        host="bench")  # fmt: skip
        await restic.init()
        plan = _plan(share, work / "repo")
        first, _ = await agent_run(restic, plan, work / "staging")
        print(f"  first backup of the share: {first:.0f}s ({size / 1e6 / first:.0f} MB/s)")
        runs = Runs(f"P6 re-check, {size / 1e9:.1f} GB unchanged", RECHECK, runs_wanted)
        for _ in runs:
            whole, steps = await agent_run(restic, plan, work / "staging")
            print(f"  unchanged: agent run {whole:.2f}s (backup step {steps['backup']:.2f}s)")
            runs.record({"recheck_s": whole})
        return runs.finish()
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def main(megabytes: int, runs_wanted: int) -> int:
    work = Path(tempfile.mkdtemp(prefix="prisme-bench-backup-"))
    try:
        share = work / "PARTAGE"
        t0 = time.perf_counter()
        size = generate(share, megabytes)
        print(
            f"data: {size / 1e6:.0f} MB in {sum(1 for _ in share.rglob('*'))} entries "
            f"(generated in {time.perf_counter() - t0:.1f}s)"
        )
        mb = size / 1e6
        runs = Runs(f"P6 backups, {mb:.0f} MB", TARGETS, runs_wanted)
        for n in runs:
            r = await one_round(work / f"round{n}", share, agent_first=n % 2 == 1)
            print(
                f"  new data: plain {r['plain1']:.2f}s / agent backup {r['step1']:.2f}s"
                f" / agent run {r['whole1']:.2f}s; unchanged: plain {r['plain2']:.2f}s"
                f" / agent backup {r['step2']:.2f}s / agent run {r['whole2']:.2f}s"
            )
            runs.record(
                {
                    "plain_new_mbs": mb / r["plain1"],
                    "agent_run_new_mbs": mb / r["whole1"],
                    "step_ratio_new": r["plain1"] / r["step1"],
                    "whole_ratio_new": r["plain1"] / r["whole1"],
                    "plain_unchanged_s": r["plain2"],
                    "agent_run_unchanged_s": r["whole2"],
                    "step_ratio_unchanged": r["plain2"] / r["step2"],
                    "whole_ratio_unchanged": r["plain2"] / r["whole2"],
                    "check_s": r["check1"] + r["check2"],
                }
            )
        print("ratio = plain time / agent time (P6 target for the whole daily run: >= 0.90)")
        return runs.finish()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=300)
    parser.add_argument(
        "--recheck-gb", type=int, default=0,
        help="also time the daily run over an unchanged share of this size (P6: 10)",
    )  # fmt: skip
    add_runs_argument(parser)
    args = parser.parse_args()
    status = asyncio.run(main(args.mb, args.runs))
    if args.recheck_gb:
        status = max(status, asyncio.run(recheck(args.recheck_gb, args.runs)))
    sys.exit(status)
