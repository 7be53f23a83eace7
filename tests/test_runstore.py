import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.config import resolve
from engine.errors import UserError
from engine.runstore import RunDir, RunStore, summarize


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "runs")


def test_create_writes_the_resolved_config_and_meta(store: RunStore):
    cfg = resolve("baby", None, ["max_iters=10"])
    run = store.create(cfg, name="my run", preset="baby")
    assert run.read_config() == cfg
    meta = run.read_meta()
    assert meta["name"] == "my run" and meta["preset"] == "baby"
    assert run.state().state == "created"
    assert "my-run" in run.id


def test_ids_are_unique_and_listed_newest_first(store: RunStore):
    cfg = resolve("baby")
    first = store.create(cfg, name="a")
    second = store.create(cfg, name="a")
    assert first.id != second.id
    (store.root / "stray.txt").write_text("not a run")
    assert {r.id for r in store.runs()} == {first.id, second.id}


def test_get_by_id_prefix_name_and_path(store: RunStore):
    run = store.create(resolve("baby"), name="findme")
    assert store.get(run.id).path == run.path
    assert store.get(run.id[:-2]).path == run.path
    assert store.get("findme").path == run.path
    assert store.get(str(run.path)).path == run.path
    with pytest.raises(UserError, match="no run 'nope'"):
        store.get("nope")


def test_ambiguous_prefix_names_the_candidates(store: RunStore):
    store.create(resolve("baby"), name="x")
    store.create(resolve("baby"), name="y")
    with pytest.raises(UserError, match="matches several runs"):
        store.get("2")


def _status(run: RunDir, **fields) -> None:
    run.write_status({"host": socket.gethostname(), **fields})


def test_running_with_a_dead_pid_is_interrupted(store: RunStore):
    run = store.create(resolve("baby"))
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    _status(run, state="running", pid=proc.pid, heartbeat=time.time())
    assert run.state().state == "interrupted"


def test_running_with_a_live_pid_is_running(store: RunStore):
    run = store.create(resolve("baby"))
    _status(run, state="running", pid=os.getpid(), heartbeat=time.time())
    assert run.state().state == "running"


def test_a_reused_pid_is_not_our_worker(store: RunStore):
    run = store.create(resolve("baby"))
    _status(run, state="running", pid=os.getpid(), pid_started=1.0)
    assert run.state().state == "interrupted"


def test_another_hosts_run_lives_by_its_heartbeat(store: RunStore):
    run = store.create(resolve("baby"))
    run.write_status({"host": "elsewhere", "state": "running", "pid": 1,
                      "heartbeat": time.time()})
    assert run.state().state == "running"
    run.write_status({"host": "elsewhere", "state": "running", "pid": 1,
                      "heartbeat": time.time() - 3600})
    assert run.state().state == "interrupted"


def test_garbage_status_and_empty_dirs_are_errors_with_reasons(store: RunStore):
    run = store.create(resolve("baby"))
    run.status_path.write_text("{garbage")
    state = run.state()
    assert state.state == "error" and "status.json is not valid JSON" in state.reason
    empty = store.root / "20990101-000000-empty"
    empty.mkdir()
    assert RunDir(empty).state().state == "error"
    assert summarize(RunDir(empty)).state == "error"


def test_invalid_config_shows_as_error(store: RunStore):
    run = store.create(resolve("baby"))
    run.config_path.write_text("n_layer = 'x'\n")
    summary = summarize(run)
    assert summary.state == "error" and "must be an integer" in summary.reason


def test_delete_refuses_a_training_run(store: RunStore):
    run = store.create(resolve("baby"))
    _status(run, state="running", pid=os.getpid())
    with pytest.raises(UserError, match="stop it before deleting"):
        store.delete(run)
    _status(run, state="stopped", pid=os.getpid())
    store.delete(run)
    assert not run.path.exists()


def test_summary_reads_status(store: RunStore):
    run = store.create(resolve("baby"), name="s")
    run.write_status({"state": "done", "step": 7, "max_iters": 7, "best_val": 1.5,
                      "tokens_per_s": 100.0, "params": 42})
    s = summarize(run)
    assert (s.state, s.step, s.max_iters, s.best_val, s.params) == ("done", 7, 7, 1.5, 42)
    assert json.loads(run.status_path.read_text())["step"] == 7
