"""The runner's reaper (DESIGN §5: a runner that is killed leaves no orphan behind).

`prisme up` starts this small process first, from its main thread, with
``PR_SET_PDEATHSIG``: the kernel signals it the moment the runner dies, whatever killed it
(SIGKILL included). It then does what `prisme down` does after a killed runner: it stops every
process the state file records (services, NATS, and PostgreSQL, whose postmaster was
daemonised by pg_ctl and so has no parent to die with). When the runner stops normally it
terminates the reaper itself, and the reaper, seeing the runner alive, does nothing.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """``preexec_fn``: ask the kernel to send ``sig`` when the parent thread exits (Linux)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def start(data_dir: Path, python: str = sys.executable) -> subprocess.Popen[bytes]:
    """Start the reaper of this process (call from the main thread: the death signal follows
    the thread that forked, not the process)."""
    return subprocess.Popen(
        [python, "-m", "prisme_cli.reaper", str(data_dir), str(os.getpid())],
        preexec_fn=die_with_parent,
        start_new_session=True,  # Ctrl-C in the terminal is the runner's business
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main(argv: list[str]) -> int:
    from .control import cleanup
    from .state import RunState, alive

    data_dir, runner_pid = Path(argv[0]), int(argv[1])
    # SIGTERM (the death signal, or the runner's own stop) is waited for, not handled: a
    # handler that sets a threading.Event can deadlock on the Event's lock when a second
    # signal lands while the first is being handled (CI saw a reaper stuck so, every process
    # of the killed runner left running).
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    # the runner may have died before the death signal was armed: then the parent changed
    while os.getppid() == runner_pid:
        if signal.sigtimedwait({signal.SIGTERM}, 1.0) is not None:
            break
    state_file = data_dir / "state.json"
    if not state_file.exists():
        return 0
    state = RunState.load(state_file)
    if state.runner_pid != runner_pid or alive(state.runner_pid, state.runner_started):
        return 0  # a normal stop (the runner is alive and asked us to go)
    cleanup(state, report=lambda line: None)
    state_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
