import math
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine import train as train_mod
from engine.checkpoint import load_checkpoint, model_from_checkpoint
from engine.corpus import TINY_SHAKESPEARE_SHA256
from engine.metrics import read_metrics
from engine.runstore import RunDir, RunStore
from engine.train import train
from tests.conftest import tiny_config


def _steps(rows, kind):
    return [r["step"] for r in rows if r["kind"] == kind]


def test_a_tiny_gpt_learns_shakespeare(trained_runs: Path):
    run = RunStore(trained_runs).get("tiny-gpt")
    rows = read_metrics(run.metrics_path)
    evals = [r for r in rows if r["kind"] == "eval"]
    assert _steps(rows, "eval") == [0, 50, 100]
    assert _steps(rows, "train") == list(range(10, 101, 10))
    assert evals[0]["val_loss"] == pytest.approx(math.log(65), abs=0.15)
    assert evals[-1]["val_loss"] < 3.0  # well below ln(65) = 4.17
    status = run.read_status()
    assert status["state"] == "done" and status["step"] == 100
    assert status["best_val"] == min(r["val_loss"] for r in evals)
    train_row = [r for r in rows if r["kind"] == "train"][-1]
    for key in ("tokens", "elapsed", "loss", "lr", "tokens_per_s", "mfu", "grad_norm", "memory"):
        assert key in train_row
    assert train_row["tokens"] == 100 * 8 * 32
    assert train_row["memory"]["rss"] > 0


def test_checkpoints_hold_everything_needed(trained_runs: Path):
    run = RunStore(trained_runs).get("tiny-gpt")
    for which in ("last", "best"):
        ckpt = load_checkpoint(run.checkpoint_path(which))
        assert ckpt["iter_num"] == 100
        assert len(ckpt["vocab"]) == 65 and ckpt["corpus_sha256"] == TINY_SHAKESPEARE_SHA256
        assert ckpt["config"]["max_iters"] == 100 and ckpt["model_args"]["n_layer"] == 2
        assert {"model", "optimizers", "rng", "best_val_loss"} <= set(ckpt)
        model = model_from_checkpoint(ckpt)
        assert sum(p.numel() for p in model.parameters()) > 0


def test_bigram_baseline_trains(trained_runs: Path):
    run = RunStore(trained_runs).get("tiny-bigram")
    evals = [r for r in read_metrics(run.metrics_path) if r["kind"] == "eval"]
    assert evals[-1]["val_loss"] < evals[0]["val_loss"] - 0.5


def stop_at(step: int):
    """A progress hook that sends this process one SIGTERM once `step` is logged."""
    sent = []

    def progress(row):
        if row["kind"] == "train" and row["step"] >= step and not sent:
            sent.append(step)
            os.kill(os.getpid(), signal.SIGTERM)
    return progress


@pytest.mark.parametrize("optimizer", ["adamw", "muon"])
def test_sigterm_checkpoints_and_resume_matches_an_unbroken_run(tmp_path: Path, optimizer: str):
    store = RunStore(tmp_path)
    cfg = tiny_config(max_iters=40, eval_interval=20, log_interval=5, optimizer=optimizer)
    straight = store.create(cfg, name="straight")
    assert train(straight) == "done"

    broken = store.create(cfg, name="broken")
    assert train(broken, progress=stop_at(25)) == "stopped"
    status = broken.read_status()
    # The signal arrives during step 26's bookkeeping: that step finishes, then it stops.
    assert status["state"] == "stopped" and status["step"] == 26
    assert load_checkpoint(broken.checkpoint_path("last"))["iter_num"] == 26
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored

    assert train(broken, resume=True) == "done"
    rows = read_metrics(broken.metrics_path)
    assert _steps(rows, "train") == [5, 10, 15, 20, 25, 26, 30, 35, 40]
    assert _steps(rows, "eval") == [0, 20, 40]
    a = load_checkpoint(straight.checkpoint_path("last"))["model"]
    b = load_checkpoint(broken.checkpoint_path("last"))["model"]
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-5), name


def test_stale_rows_after_the_checkpoint_are_not_shown(tmp_path: Path):
    run = RunStore(tmp_path).create(tiny_config(max_iters=30, eval_interval=10, log_interval=5))
    assert train(run, progress=stop_at(10)) == "stopped"
    # What a SIGKILL at step 17 leaves: rows past the checkpoint (step 11).
    with run.metrics_path.open("a") as f:
        f.write('{"kind":"train","step":15,"loss":9}\n{"kind":"train","step":17,"loss":9}\n')
    assert train(run, resume=True) == "done"
    rows = read_metrics(run.metrics_path)
    assert _steps(rows, "train") == [5, 10, 11, 15, 20, 25, 30]
    assert all(r["loss"] != 9 for r in rows if r["kind"] == "train")


def test_nan_loss_fails_with_the_step_and_keeps_the_checkpoint(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch):
    run = RunStore(tmp_path).create(tiny_config(max_iters=40, eval_interval=10, log_interval=5))
    real_step = train_mod.Trainer._train_step

    def poisoned(self):
        loss = real_step(self)
        return loss * float("nan") if self.step >= 12 else loss

    monkeypatch.setattr(train_mod.Trainer, "_train_step", poisoned)
    assert train(run) == "failed"
    status = run.read_status()
    assert status["state"] == "failed"
    assert "loss became nan by step 15" in status["error"]
    assert "lower learning_rate" in status["error"]
    assert load_checkpoint(run.checkpoint_path("last"))["iter_num"] == 10


def test_cuda_out_of_memory_fails_with_a_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    run = RunStore(tmp_path).create(tiny_config(max_iters=40, eval_interval=10, log_interval=5))
    real_step = train_mod.Trainer._train_step

    def out_of_memory(self):
        if self.step >= 13:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(self)

    monkeypatch.setattr(train_mod.Trainer, "_train_step", out_of_memory)
    assert train(run) == "failed"
    status = run.read_status()
    assert status["state"] == "failed"
    assert "CUDA out of memory at step 13" in status["error"]
    assert "lower batch_size or block_size" in status["error"]
    assert load_checkpoint(run.checkpoint_path("last"))["iter_num"] == 10


def test_disk_full_keeps_the_previous_checkpoint(tmp_path: Path):
    run = RunStore(tmp_path).create(tiny_config(max_iters=40, eval_interval=20, log_interval=5))
    assert train(run, progress=stop_at(20)) == "stopped"
    before = run.checkpoint_path("last").read_bytes()
    step_before = load_checkpoint(run.checkpoint_path("last"))["iter_num"]
    size = len(before)

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (size // 2, size // 2))

    proc = subprocess.run([sys.executable, "-m", "engine.worker", str(run.path), "--resume"],
                          preexec_fn=small_disk, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    status = RunDir(run.path).read_status()
    assert status["state"] == "failed"
    assert status["error"].startswith("disk full while writing a checkpoint")
    assert run.checkpoint_path("last").read_bytes() == before
    assert load_checkpoint(run.checkpoint_path("last"))["iter_num"] == step_before
    assert not [p for p in run.path.iterdir() if ".tmp-" in p.name]


def test_a_changed_corpus_refuses_to_resume(tmp_path: Path):
    text = tmp_path / "text.txt"
    text.write_text("to be or not to be, that is the question. " * 200)
    run = RunStore(tmp_path / "runs").create(
        tiny_config(max_iters=20, eval_interval=10, data=str(text), block_size=16))
    assert train(run, progress=stop_at(10)) == "stopped"
    text.write_text("whether 'tis nobler in the mind to suffer. " * 200)
    from engine.errors import UserError

    with pytest.raises(UserError, match="changed since run"):
        train(run, resume=True)
    assert run.read_status()["state"] == "failed"


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_low_precision_paths_train(tmp_path: Path, dtype: str):
    """The GPU paths (autocast; float16 with a GradScaler) run on the CPU as well."""
    run = RunStore(tmp_path).create(tiny_config(max_iters=20, eval_interval=20, dtype=dtype))
    assert train(run) == "done"
    evals = [r for r in read_metrics(run.metrics_path) if r["kind"] == "eval"]
    assert evals[-1]["val_loss"] < evals[0]["val_loss"]
    assert "scaler" in load_checkpoint(run.checkpoint_path("last"))


def test_gradient_accumulation_counts_every_micro_batch(tmp_path: Path):
    run = RunStore(tmp_path).create(
        tiny_config(max_iters=10, eval_interval=10, gradient_accumulation_steps=3))
    assert train(run) == "done"
    last = [r for r in read_metrics(run.metrics_path) if r["kind"] == "train"][-1]
    assert last["tokens"] == 10 * 3 * 8 * 32
