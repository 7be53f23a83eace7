"""Runs in every state with fixed ids, times and numbers: screens made of them never vary.

Used by the snapshot tests and by bench/tui_speed.py.
"""

from __future__ import annotations

import math
import os
import socket
from pathlib import Path

from engine import config
from engine.fsutil import atomic_write_bytes
from engine.metrics import MetricsWriter
from engine.runstore import RunDir, process_started

FROZEN_NOW = 1_800_000_000.0


def write_showcase_runs(root: Path, now: float = FROZEN_NOW) -> Path:
    """Runs with fixed ids, times and numbers in every state, for screens that must not vary.

    Built with the engine's own writers, the way a worker leaves them; no training involved.
    The newest run counts as running while the calling process lives (its pid stands in).
    """

    def make(run_id: str, preset: str, age_s: float, status: dict, steps: int = 0,
             eval_every: int = 250) -> None:
        run = RunDir(root / run_id)
        run.path.mkdir(parents=True)
        cfg = config.PRESETS[preset].config()
        meta = {"name": run_id.split("-", 2)[-1], "preset": preset, "created": now - age_s}
        atomic_write_bytes(run.config_path, config.to_toml(cfg, meta).encode())
        writer = MetricsWriter(run.metrics_path)
        best = math.inf
        for step in range(0, steps + 1, 10):
            loss = 1.1 + 3.1 * math.exp(-step / 500) + 0.05 * math.sin(step / 7)
            if step:
                writer.append({"kind": "train", "step": step, "loss": loss, "lr": 1e-3})
            if steps and step % eval_every == 0:
                val = 1.45 + 2.75 * math.exp(-step / 600) + 0.00003 * step
                best = min(best, val)
                writer.append({"kind": "eval", "step": step, "train_loss": loss - 0.02,
                               "val_loss": val, "best_val": best})
                status.update(best_val=best, val_loss=val, loss=loss)
        writer.close()
        run.write_status({"host": "gpu-box", "pid": 4242, **status})

    gpu_memory = {"rss": 3 * 2**30, "allocated": 2 * 2**30, "reserved": 5 * 2**29,
                  "peak": 9 * 2**28}
    pid = os.getpid()  # the test process stands in for a live worker
    make("20270115-100000-shakespeare", "shakespeare-char", 20 * 60,
         {"state": "running", "host": socket.gethostname(), "pid": pid,
          "pid_started": process_started(pid), "step": 3000, "max_iters": 5000,
          "params": 10_745_088, "tokens_per_s": 412_000.0, "device": "NVIDIA H100 80GB HBM3",
          "memory": gpu_memory},
         steps=3000)
    make("20270115-090000-baby-muon", "baby-muon", 80 * 60,
         {"state": "done", "step": 1000, "max_iters": 1000, "params": 808_000,
          "tokens_per_s": 23_500.0, "device": "cpu"}, steps=1000,
         eval_every=100)
    make("20270115-080000-baby", "baby", 2 * 3600,
         {"state": "stopped", "step": 1200, "max_iters": 2000, "params": 808_000,
          "tokens_per_s": 21_000.0, "device": "cpu"}, steps=1200)
    make("20270114-230000-lecture", "lecture", 11 * 3600,
         {"state": "running", "pid": 2**22 + 4242, "step": 700, "max_iters": 5000,
          "params": 10_788_929, "tokens_per_s": 98_000.0}, steps=700,
         eval_every=500)
    make("20270114-120000-bigram", "bigram", 22 * 3600,
         {"state": "failed", "step": 0, "max_iters": 3000,
          "error": "CUDA out of memory at step 0; lower batch_size or block_size."})
    return root
