"""Start and stop detached training workers. No torch here: the TUI calls this directly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from engine.errors import UserError
from engine.runstore import LIVE_STATES, RunDir, process_started


def worker_command(run: RunDir, resume: bool = False, nproc: int = 1) -> list[str]:
    """`python -m engine.worker RUN_DIR`, under torchrun when several processes are asked for."""
    args = ["-m", "engine.worker", str(run.path)] + (["--resume"] if resume else [])
    if nproc > 1:
        return [sys.executable, "-m", "torch.distributed.run", "--standalone",
                f"--nproc_per_node={nproc}", *args]
    return [sys.executable, *args]


def launch(run: RunDir, resume: bool = False, nproc: int = 1) -> int:
    """Start a worker that outlives this process and the terminal; return its pid at once.

    A new session detaches it from the terminal's hangup, stdin is /dev/null so it never competes
    for keys, and all output (torch's and CUDA's included) goes to worker.log.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(run.log_path, "ab") as log:
        proc = subprocess.Popen(
            worker_command(run, resume, nproc), stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True, env=env,
        )
    # Covers the second or two before the worker writes its own status.
    run.update_status(state="starting", pid=proc.pid, pid_started=process_started(proc.pid),
                      host=socket.gethostname(), heartbeat=time.time(), error=None)
    return proc.pid


def request_stop(run: RunDir) -> int:
    """Ask a run's worker to checkpoint and stop after its current step; return its pid."""
    status = run.read_status()
    state = run.state().state
    if state not in LIVE_STATES:
        raise UserError(f"run {run.id} is {state}, not training; nothing to stop.")
    if status.get("host") != socket.gethostname():
        raise UserError(f"run {run.id} trains on host {status.get('host')}; stop it there.")
    pid = int(status["pid"])
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        raise UserError(f"run {run.id}'s worker (pid {pid}) is gone; it shows as interrupted.") \
            from None
    return pid


def wait_until_stopped(run: RunDir, timeout: float) -> str:
    """Poll until the run leaves the live states or `timeout` passes; return the state seen."""
    deadline = time.monotonic() + timeout
    while True:
        state = run.state().state
        if state not in LIVE_STATES or time.monotonic() > deadline:
            return state
        time.sleep(0.2)
