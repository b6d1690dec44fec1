"""A service forked from the runner looks like ``python -m module`` started afresh."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

#: the runner's side: a signal handler, an open pipe, an environment variable of its own;
#: then one forked child, waited for, whose exit code and pid are printed
PARENT = textwrap.dedent(
    """
    import json, os, signal, sys, time
    from pathlib import Path
    from prisme_cli.forking import fork_module, preload

    signal.signal(signal.SIGTERM, lambda *_: None)  # the runner's Shutdown handler
    read_end, write_end = os.pipe()                  # e.g. the reaper's or PostgreSQL's
    os.environ["RUNNER_ONLY"] = "1"
    preload(["json", "not_a_module_anywhere"])
    out = Path(sys.argv[1])
    child = fork_module(
        "forked_probe", ["--flag", str(write_end)],
        env={"ONLY_THIS": "yes", "PATH": os.environ["PATH"]},
        cwd=out, log=out / "child.log", title="prisme-probe",
    )
    if sys.argv[2] == "term":
        while not (out / "ready").exists():
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGTERM)
    print(json.dumps({"pid": child.pid, "code": child.wait()}))
    """
)

PROBE = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    fd = int(sys.argv[2])
    try:
        os.fstat(fd)
        inherited = True
    except OSError:
        inherited = False
    facts = {
        "argv": sys.argv[1:],
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "own_session": os.getsid(0) == os.getpid(),
        "comm": Path("/proc/self/comm").read_text().strip(),
        "pipe_inherited": inherited,
        "main": __name__,
    }
    print(json.dumps(facts))
    if "TERM_ME" in Path("mode").read_text():
        Path("ready").touch()
        time.sleep(30)
    sys.exit(3)
    """
)


def run_parent(tmp_path: Path, mode: str) -> tuple[dict[str, int], str]:
    (tmp_path / "forked_probe.py").write_text(PROBE)
    (tmp_path / "mode").write_text("TERM_ME" if mode == "term" else "")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-c", PARENT, str(tmp_path), mode],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    )  # fmt: skip
    result: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return result, (tmp_path / "child.log").read_text()


def test_the_child_gets_only_what_it_is_given(tmp_path: Path) -> None:
    result, log = run_parent(tmp_path, "exit")
    facts = json.loads(log.strip().splitlines()[0])
    assert result["code"] == 3  # sys.exit(3) of the module is the process' exit code
    assert facts["main"] == "__main__"
    assert facts["argv"][0] == "--flag"
    assert facts["env"] == {"ONLY_THIS": "yes", "PATH": os.environ["PATH"]}  # not RUNNER_ONLY
    assert facts["cwd"] == str(tmp_path)
    assert facts["own_session"] is True
    assert facts["comm"] == "prisme-probe"
    assert facts["pipe_inherited"] is False


def test_sigterm_stops_the_child_whatever_the_runner_handles(tmp_path: Path) -> None:
    result, _ = run_parent(tmp_path, "term")
    assert result["code"] == -15  # the default action, not the runner's handler
