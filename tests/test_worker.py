"""The detached worker: it outlives its launcher, stops cleanly, and survives a kill -9."""

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from engine.checkpoint import load_checkpoint
from engine.launch import launch, request_stop, wait_until_stopped
from engine.metrics import read_metrics
from engine.runstore import RunDir, RunStore
from tests.conftest import tiny_config


def wait_for(predicate, timeout: float = 120.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")


def checkpoint_step(run: RunDir) -> int:
    return load_checkpoint(run.checkpoint_path("last"))["iter_num"]


@pytest.fixture
def long_run(tmp_path: Path) -> RunDir:
    """A tiny run with far more steps than a test waits for: it trains until told to stop."""
    return RunStore(tmp_path / "runs").create(
        tiny_config(max_iters=1_000_000, eval_interval=40, log_interval=10), name="long")


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def test_a_detached_worker_trains_and_stops_cleanly(long_run: RunDir):
    pid = launch(long_run)
    try:
        assert long_run.state().state in ("starting", "running")
        wait_for(lambda: long_run.read_status().get("checkpoint_step"))
        assert long_run.state().state == "running"
        assert os.getsid(pid) == pid  # its own session: a terminal hangup does not reach it
        request_stop(long_run)
        assert wait_until_stopped(long_run, 60) == "stopped"
        status = long_run.read_status()
        assert checkpoint_step(long_run) == status["step"]
        assert "stopped" in long_run.log_path.read_text()
    finally:
        _kill(pid)


def test_sigkill_leaves_a_loadable_checkpoint_and_resume_continues(long_run: RunDir):
    pid = launch(long_run)
    try:
        wait_for(lambda: (long_run.read_status().get("checkpoint_step") or 0) >= 80)
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: long_run.state().state == "interrupted", timeout=10)
        saved = checkpoint_step(long_run)
        assert saved >= 80 and saved % 40 == 0
    finally:
        _kill(pid)

    pid = launch(long_run, resume=True)
    try:
        wait_for(lambda: (long_run.read_status().get("checkpoint_step") or 0) > saved)
        request_stop(long_run)
        assert wait_until_stopped(long_run, 60) == "stopped"
    finally:
        _kill(pid)
    rows = read_metrics(long_run.metrics_path)
    train_steps = [r["step"] for r in rows if r["kind"] == "train"]
    assert train_steps == sorted(set(train_steps))  # no step drawn twice
    raw = [line for line in long_run.metrics_path.read_text().splitlines() if '"resume"' in line]
    assert len(raw) == 1 and f'"step":{saved}' in raw[0]


def test_stop_refuses_a_run_that_is_not_training(long_run: RunDir):
    from engine.errors import UserError

    with pytest.raises(UserError, match="not training"):
        request_stop(long_run)
