"""Two processes under torchrun with DDP on the gloo backend: the multi-GPU path, on CPUs."""

from pathlib import Path

from engine.checkpoint import load_checkpoint
from engine.launch import launch, wait_until_stopped
from engine.metrics import read_metrics
from engine.runstore import RunStore
from tests.conftest import tiny_config


def test_two_process_ddp_run_with_gloo(tmp_path: Path):
    run = RunStore(tmp_path / "runs").create(
        tiny_config(max_iters=30, eval_interval=15, log_interval=5, device="cpu"), name="ddp")
    launch(run, nproc=2)
    assert wait_until_stopped(run, 180) == "done", run.log_path.read_text()[-2000:]
    status = run.read_status()
    assert status["world_size"] == 2 and status["step"] == 30
    rows = read_metrics(run.metrics_path)
    # Only rank 0 writes: each step appears once, and tokens count both ranks' batches.
    train = [r for r in rows if r["kind"] == "train"]
    assert [r["step"] for r in train] == [5, 10, 15, 20, 25, 30]
    assert train[-1]["tokens"] == 30 * 8 * 32 * 2
    evals = [r for r in rows if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [0, 15, 30]
    assert evals[-1]["val_loss"] < evals[0]["val_loss"] - 0.5
    ckpt = load_checkpoint(run.checkpoint_path("last"))
    assert len(ckpt["rng"]["ranks"]) == 2
    ranks = ckpt["rng"]["ranks"]
    assert not ranks[0]["data"].equal(ranks[1]["data"])  # each rank draws its own batches
