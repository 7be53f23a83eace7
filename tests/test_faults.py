"""Faults a user will meet, engine side: kills, damaged files, a full disk, no permission."""

from __future__ import annotations

import itertools
import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.checkpoint import load_checkpoint
from engine.errors import UserError
from engine.launch import launch, wait_until_stopped
from engine.metrics import read_metrics
from engine.runstore import RunDir, RunStore, summarize
from engine.train import train
from nanogpt_tui.cli import main
from tests.conftest import tiny_config
from tests.test_train import stop_at
from tests.test_worker import wait_for


def _strictly_increasing(steps: list[int]) -> bool:
    return all(a < b for a, b in itertools.pairwise(steps))


def _temp_checkpoints(run: RunDir) -> list[Path]:
    return [p for p in run.path.iterdir() if p.name.startswith(("last.pt.tmp-", "best.pt.tmp-"))]


@pytest.mark.slow
def test_twenty_kill_9s_never_lose_the_checkpoint_or_repeat_a_step(tmp_path: Path,
                                                                   tiny_shakespeare: Path):
    # A model big enough that writing its checkpoint takes a while (~16 MB), on a short text so
    # that each eval (and so each checkpoint) comes every few tenths of a second.
    text = tmp_path / "short.txt"
    text.write_text(tiny_shakespeare.read_text()[:100_000])
    run = RunStore(tmp_path / "runs").create(tiny_config(
        n_layer=3, n_head=4, n_embd=192, max_iters=1_000_000, eval_interval=10, log_interval=5,
        eval_train_windows=16, data=str(text)))
    rng = random.Random(0)
    kills_during_a_write = 0
    saved_steps = []
    for attempt in range(20):
        pid = launch(run, resume=attempt > 0)
        try:
            wait_for(lambda pid=pid: run.state().state == "running" and
                     run.read_status().get("pid") == pid, timeout=120, interval=0.02)
            if attempt % 2:  # at a random moment after this attempt's first checkpoint
                wait_for(lambda: (run.read_status().get("checkpoint_step") or -1) >
                         (saved_steps[-1] if saved_steps else -1), timeout=120, interval=0.01)
                time.sleep(rng.uniform(0.0, 0.5))
            else:  # while a checkpoint is being written
                wait_for(lambda: _temp_checkpoints(run), timeout=120, interval=0.001)
                kills_during_a_write += bool(_temp_checkpoints(run))
        finally:
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: run.state().state == "interrupted", timeout=10)
        if run.checkpoint_path("last").exists():
            saved_steps.append(load_checkpoint(run.checkpoint_path("last"))["iter_num"])
        rows = read_metrics(run.metrics_path)
        assert _strictly_increasing([r["step"] for r in rows if r["kind"] == "train"])
        assert _strictly_increasing([r["step"] for r in rows if r["kind"] == "eval"])
    assert kills_during_a_write >= 5
    assert saved_steps == sorted(saved_steps) and saved_steps[-1] > 0
    # The next resume starts exactly at the last checkpoint.
    def markers() -> list[dict]:
        return [json.loads(line) for line in run.metrics_path.read_text().splitlines()
                if '"resume"' in line]

    before = len(markers())
    pid = launch(run, resume=True)
    try:
        wait_for(lambda: len(markers()) > before)
    finally:
        os.kill(pid, signal.SIGKILL)
    assert markers()[-1]["step"] == saved_steps[-1]


def test_metrics_disk_full_fails_cleanly(tmp_path: Path):
    run = RunStore(tmp_path).create(tiny_config(max_iters=1000, eval_interval=500,
                                                log_interval=1))
    assert train(run, progress=stop_at(5)) == "stopped"
    before = run.checkpoint_path("last").read_bytes()
    # Fill metrics.jsonl (with rows that stay valid) up to just under the file-size limit.
    limit = len(before) + 200_000
    row = json.dumps({"kind": "train", "step": 1, "loss": 4.0}) + "\n"
    with run.metrics_path.open("a") as f:
        f.write(row * ((limit - run.metrics_path.stat().st_size - 2000) // len(row)))

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "engine.worker", str(run.path), "--resume"],
                          preexec_fn=small_disk, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    status = run.read_status()
    assert status["state"] == "failed"
    assert status["error"].startswith("disk full while writing metrics.jsonl")
    assert run.checkpoint_path("last").read_bytes() == before


def test_a_truncated_last_checkpoint_resumes_from_best(tmp_path: Path):
    run = RunStore(tmp_path).create(tiny_config(max_iters=40, eval_interval=10))
    assert train(run, progress=stop_at(15)) == "stopped"
    last = run.checkpoint_path("last")
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    best_step = load_checkpoint(run.checkpoint_path("best"))["iter_num"]
    with pytest.raises(UserError, match="damaged or incomplete"):
        load_checkpoint(last)
    assert train(run, resume=True) == "done"
    markers = [r for r in map(json.loads, run.metrics_path.read_text().splitlines())
               if r["kind"] == "resume"]
    assert markers[-1]["step"] == best_step


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda run: run.status_path.write_text("\x00garbage{"), "status.json is not valid JSON"),
        (lambda run: run.config_path.write_text("n_layer = [1, 2]\n"), "must be an integer"),
        (lambda run: run.config_path.write_text("n_layer = \n"), "not valid TOML"),
    ],
)
def test_a_damaged_run_shows_its_reason_and_the_others_still_work(runs_copy: Path, capsys,
                                                                  damage, reason: str):
    store = RunStore(runs_copy)
    broken = store.get("tiny-bigram")
    damage(broken)
    (runs_copy / "stray-file.txt").write_text("not a run")
    (runs_copy / "20000101-000000-empty").mkdir()
    by_id = {s.id: s for s in store.summaries()}
    assert by_id[broken.id].state == "error" and reason in by_id[broken.id].reason
    assert by_id[store.get("tiny-gpt").id].state == "done"
    assert by_id["20000101-000000-empty"].state == "error"
    assert main(["runs", "--runs-dir", str(runs_copy)]) == 0
    assert "tiny-gpt" in capsys.readouterr().out
    assert main(["show", "--runs-dir", str(runs_copy), broken.id]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and reason in err


def test_two_runs_train_at_once_without_interfering(tmp_path: Path):
    store = RunStore(tmp_path / "runs")
    runs = [store.create(tiny_config(max_iters=30, eval_interval=15, seed=seed), name=f"r{seed}")
            for seed in (1, 2)]
    for run in runs:
        launch(run)
    for run in runs:
        assert wait_until_stopped(run, 180) == "done", run.log_path.read_text()[-1000:]
    a, b = (read_metrics(run.metrics_path) for run in runs)
    assert [r["step"] for r in a] == [r["step"] for r in b]
    assert a[-1]["val_loss"] != b[-1]["val_loss"]  # different seeds, separate files
    assert {s.state for s in store.summaries()} == {"done"}


def test_an_unwritable_runs_dir_is_refused_in_one_line(tmp_path: Path):
    runs = tmp_path / "locked"
    runs.mkdir()
    runs.chmod(0o555)
    # Root writes anywhere; in a user namespace of its own the permission bits bind it too.
    prefix = ["unshare", "--user"] if os.geteuid() == 0 else []
    proc = subprocess.run([*prefix, sys.executable, "-m", "nanogpt_tui.cli", "train",
                           "--runs-dir", str(runs), "--preset", "bigram"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not writable; pass --runs-dir" in lines[0]
    assert list(runs.iterdir()) == []


def test_summaries_survive_a_run_deleted_underneath(runs_copy: Path):
    store = RunStore(runs_copy)
    run = store.get("tiny-bigram")
    for child in run.path.iterdir():
        child.unlink()
    assert summarize(run).state == "error"


def test_a_foreground_run_whose_terminal_goes_away_checkpoints_and_stops(tmp_path: Path,
                                                                        tiny_shakespeare: Path):
    from tests.test_cli import TINY_SETS
    from tests.tui.tmux import Tmux

    exe = Path(sys.executable).with_name("nanogpt-tui")
    if not (Tmux.available() and exe.exists()):
        pytest.skip("needs tmux and the installed nanogpt-tui")
    runs = tmp_path / "runs"
    tmux = Tmux(f"ntui-hup-{os.getpid()}", width=100, height=10)
    try:
        tmux.start([str(exe), "train", "--runs-dir", str(runs), *TINY_SETS,
                    "--set", "max_iters=1000000", "--set", "eval_interval=50", "--name", "fg"],
                   {"NANOGPT_TUI_DATA": str(tiny_shakespeare)}, str(tmp_path))
        run = wait_for(lambda: runs.is_dir() and RunStore(runs).runs(), timeout=60)[0]
        wait_for(lambda: (run.read_status().get("step") or 0) >= 20)
    finally:
        tmux.kill()  # the terminal goes: the foreground run gets SIGHUP
    wait_for(lambda: run.state().state != "running", timeout=60)
    status = run.read_status()
    assert status["state"] == "stopped", status.get("error")
    assert load_checkpoint(run.checkpoint_path("last"))["iter_num"] == status["step"]
