"""The training loop: one run directory in, metrics, status and checkpoints out.

Only rank 0 writes the run directory. Under torchrun every rank runs this same loop with DDP
(nccl on GPUs, gloo on CPUs). A step counts optimizer updates done: the row and the checkpoint
for step N both describe the model after N updates.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from engine.checkpoint import load_checkpoint, save_checkpoint
from engine.config import TrainConfig
from engine.data import Corpus, eval_windows, get_batch, load_corpus
from engine.device import Runtime, is_cuda_oom, resolve_runtime
from engine.errors import UserError
from engine.fsutil import remove_stale_temps
from engine.metrics import MetricsWriter, read_metrics
from engine.model import GPTConfig, Model, build_model, model_args
from engine.optim import configure_optimizers, set_lr
from engine.runstore import RunDir, process_started

HEARTBEAT_S = 10.0
STATUS_MIN_INTERVAL_S = 1.0

Progress = Callable[[dict[str, Any]], None]


class TrainingFailed(Exception):
    """Training cannot go on; the message (one line, with a hint) goes into status.json."""


@dataclass
class Distributed:
    rank: int = 0
    local_rank: int | None = None
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> Distributed:
        if "RANK" not in os.environ:
            return cls()
        return cls(int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"]),
                   int(os.environ["WORLD_SIZE"]))

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank if any rank says so: ranks must stop on the same step."""
        if self.world_size == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())


class StatusReporter:
    """status.json of a training process: throttled updates plus a heartbeat thread."""

    def __init__(self, run: RunDir, enabled: bool) -> None:
        self.run = run
        self.enabled = enabled
        pid = os.getpid()
        self.status: dict[str, Any] = {
            "state": "running", "pid": pid, "pid_started": process_started(pid),
            "host": socket.gethostname(), "started": time.time(), "error": None,
        }
        self._lock = threading.Lock()
        self._last_write = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="heartbeat")

    def start(self, **fields: Any) -> None:
        self.update(force=True, **fields)
        if self.enabled:
            self._thread.start()

    def update(self, force: bool = False, **fields: Any) -> None:
        with self._lock:
            self.status.update(fields)
            now = time.time()
            if self.enabled and (force or now - self._last_write >= STATUS_MIN_INTERVAL_S):
                self._write(now)

    def _write(self, now: float) -> None:
        self.status.update(heartbeat=now, updated=now)
        self._last_write = now
        # A full disk must not turn a clean "failed" into a crash; the old file stays.
        with contextlib.suppress(OSError):
            self.run.write_status(self.status)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with self._lock:
                self._write(time.time())

    def finish(self, state: str, **fields: Any) -> None:
        self._stop.set()
        self.update(force=True, state=state, **fields)


@dataclass
class Trainer:
    run: RunDir
    cfg: TrainConfig
    resume: bool = False
    progress: Progress | None = None
    dist: Distributed = field(default_factory=Distributed.from_env)

    def __post_init__(self) -> None:
        self.stop_requested = False
        self.status = StatusReporter(self.run, enabled=self.dist.is_main)

    # --- set-up -------------------------------------------------------------------------------

    def _setup(self) -> None:
        cfg = self.cfg
        if self.dist.world_size > 1:
            backend = "nccl" if torch.cuda.is_available() and cfg.device != "cpu" else "gloo"
            dist.init_process_group(backend=backend)
        self.rt: Runtime = resolve_runtime(
            cfg.device, cfg.dtype, self.dist.local_rank if self.dist.world_size > 1 else None
        )
        if self.rt.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed + self.dist.rank)
        self.corpus: Corpus = load_corpus(cfg.data)
        self.corpus.check_block_size(cfg.block_size)
        self.data_gen = torch.Generator().manual_seed(cfg.seed + self.dist.rank)

        gpt_config = GPTConfig(
            block_size=cfg.block_size, vocab_size=len(self.corpus.vocab), n_layer=cfg.n_layer,
            n_head=cfg.n_head, n_embd=cfg.n_embd, dropout=cfg.dropout, bias=cfg.bias,
            pos_emb=cfg.pos_emb,
        )
        self.model_args = model_args(cfg.model, gpt_config)
        self.raw_model: Model = build_model(self.model_args).to(self.rt.device)
        self.optimizers = configure_optimizers(self.raw_model, cfg, self.rt.type)
        self.scaler = torch.amp.GradScaler(self.rt.type, enabled=self.rt.dtype == torch.float16)

        self.step, self.tokens, self.elapsed, self.best_val = 0, 0, 0.0, math.inf
        if self.resume and self.run.checkpoint_path("last").exists():
            self._restore()
        elif self.dist.is_main:
            remove_stale_temps(self.run.path)

        model: torch.nn.Module = self.raw_model
        if cfg.compile:
            model = torch.compile(model)
        if self.dist.world_size > 1:
            ids = [self.rt.device.index] if self.rt.type == "cuda" else None
            model = DDP(model, device_ids=ids)
        self.model = model

        # The whole corpus is a few MB: keeping it on the device saves a copy per batch.
        self.train_ids = self.corpus.train.to(self.rt.device)
        self.val_windows = eval_windows(self.corpus.val, cfg.block_size).to(self.rt.device)
        self.train_windows = eval_windows(self.corpus.train, cfg.block_size,
                                          cfg.eval_train_windows).to(self.rt.device)
        self.metrics = MetricsWriter(self.run.metrics_path) if self.dist.is_main else None

    def _load_resume_checkpoint(self) -> dict[str, Any]:
        """last.pt; if it is damaged (a failing disk, a copy cut short), the older best.pt."""
        try:
            return load_checkpoint(self.run.checkpoint_path("last"), self.rt.device)
        except UserError as damaged:
            if not self.run.checkpoint_path("best").exists():
                raise
            print(f"warning: {damaged} Resuming from best.pt instead.", file=sys.stderr)
            return load_checkpoint(self.run.checkpoint_path("best"), self.rt.device)

    def _restore(self) -> None:
        ckpt = self._load_resume_checkpoint()
        if ckpt.get("corpus_sha256") != self.corpus.sha256:
            raise UserError(
                f"the corpus {self.corpus.path} changed since run {self.run.id} started "
                "(SHA-256 differs); restore the original text or start a new run."
            )
        self.raw_model.load_state_dict(ckpt["model"])
        for opt, state in zip(self.optimizers, ckpt["optimizers"], strict=True):
            opt.load_state_dict(state)
        if "scaler" in ckpt:
            self.scaler.load_state_dict(ckpt["scaler"])
        self.step = int(ckpt["iter_num"])
        self.best_val = float(ckpt["best_val_loss"])
        self.tokens = int(ckpt.get("tokens", 0))
        self.elapsed = float(ckpt.get("elapsed", 0.0))
        rng = ckpt["rng"]
        if rng.get("cuda") is not None and self.rt.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"].cpu(), self.rt.device)
        if self.dist.rank < len(rng["ranks"]):  # a new rank count keeps its fresh seeds
            torch.set_rng_state(rng["ranks"][self.dist.rank]["torch"].cpu())
            self.data_gen.set_state(rng["ranks"][self.dist.rank]["data"].cpu())
        del ckpt  # let the loaded tensors go before the first step (nanoGPT PR #236)

    # --- the loop -----------------------------------------------------------------------------

    def _install_signal_handlers(self) -> dict[int, Any]:
        """Trap SIGTERM, SIGINT and SIGHUP (a foreground run whose terminal goes away still
        checkpoints); return the handlers they replace."""
        if threading.current_thread() is not threading.main_thread():
            return {}

        def request_stop(signum: int, frame: object) -> None:
            # Only a flag: the loop stops after the step, and a second signal aborts at once.
            if self.stop_requested:
                raise KeyboardInterrupt
            self.stop_requested = True

        return {sig: signal.signal(sig, request_stop)
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}

    def run_training(self) -> str:
        """Train to max_iters or until stopped; return the final state."""
        previous_handlers = self._install_signal_handlers()
        try:
            self._setup()
            self.status.start(
                step=self.step, max_iters=self.cfg.max_iters, params=self.raw_model.num_params(),
                device=self.rt.name, best_val=_finite_or_none(self.best_val),
                world_size=self.dist.world_size,
            )
            if self.resume:
                self._log({"kind": "resume", "step": self.step})
            state = self._loop()
        except TrainingFailed as exc:
            self.status.finish("failed", error=str(exc))
            return "failed"
        except UserError as exc:
            self.status.finish("failed", error=str(exc))
            raise
        except Exception as exc:
            if is_cuda_oom(exc):
                self.status.finish("failed", error=(
                    f"CUDA out of memory at step {getattr(self, 'step', 0)}; lower batch_size or "
                    "block_size (gradient_accumulation_steps keeps the tokens per step)."))
                return "failed"
            self.status.finish("failed", error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            if getattr(self, "metrics", None) is not None:
                self.metrics.close()
            if self.dist.world_size > 1 and dist.is_initialized():
                dist.destroy_process_group()
            for sig, handler in previous_handlers.items():
                signal.signal(sig, handler)
        self.status.finish(state)
        return state

    def _loop(self) -> str:
        cfg = self.cfg
        self.loop_start = time.perf_counter() - self.elapsed
        if self.step == 0 and not self._initial_eval_logged():
            self._evaluate()
        window_start, window_tokens, window_steps = time.perf_counter(), 0, 0
        loss_sum = torch.zeros((), device=self.rt.device)
        stopping_reported = False
        while self.step < cfg.max_iters:
            lr = set_lr(self.optimizers, self.step, cfg)
            loss_sum += self._train_step()
            self.step += 1
            window_steps += 1
            window_tokens += cfg.tokens_per_iter * self.dist.world_size
            self.tokens += cfg.tokens_per_iter * self.dist.world_size
            stop = self.dist.any(self.stop_requested, self.rt.device)
            if stop and not stopping_reported:
                self.status.update(force=True, state="stopping")
                stopping_reported = True
            if self.step % cfg.log_interval == 0 or self.step == cfg.max_iters or stop:
                mean_loss = (loss_sum / window_steps).item()
                if not math.isfinite(mean_loss):
                    raise TrainingFailed(
                        f"loss became {mean_loss} by step {self.step}; lower learning_rate or "
                        "set grad_clip=1.0 (last.pt holds the last good weights)."
                    )
                seconds = time.perf_counter() - window_start
                self._log_train(mean_loss, lr, window_tokens / seconds)
                loss_sum.zero_()
                window_start, window_tokens, window_steps = time.perf_counter(), 0, 0
            if self.step % cfg.eval_interval == 0 or self.step == cfg.max_iters:
                self._evaluate()
                window_start = time.perf_counter()
            elif stop:
                self._save_checkpoint(best=False)
            if stop:
                return "stopped"
        return "done"

    def _initial_eval_logged(self) -> bool:
        """A restart from scratch keeps the step-0 eval of the attempt before (same seed, same
        initial weights): evaluating again would only draw that point twice."""
        logged = self.resume and self.metrics is not None and any(
            r["kind"] == "eval" and r["step"] == 0 for r in read_metrics(self.run.metrics_path))
        return self.dist.any(logged, self.rt.device)  # rank 0 decides for all ranks

    @property
    def elapsed_s(self) -> float:
        """Wall time of training so far, evals included, summed over resumed segments."""
        return time.perf_counter() - self.loop_start

    def _train_step(self) -> torch.Tensor:
        cfg = self.cfg
        model = self.model
        model.train()
        total = torch.zeros((), device=self.rt.device)
        for micro in range(cfg.gradient_accumulation_steps):
            last = micro == cfg.gradient_accumulation_steps - 1
            x, y = get_batch(self.train_ids, cfg.batch_size, cfg.block_size, self.data_gen)
            sync = nullcontext() if last or not isinstance(model, DDP) else model.no_sync()
            with sync:
                with self.rt.autocast():
                    _, loss = model(x, y)
                    loss = loss / cfg.gradient_accumulation_steps
                self.scaler.scale(loss).backward()
            total += loss.detach()
        self.scaler.unscale_(self.optimizers[0])
        for opt in self.optimizers[1:]:
            self.scaler.unscale_(opt)
        max_norm = cfg.grad_clip if cfg.grad_clip > 0 else math.inf
        self.grad_norm = torch.nn.utils.clip_grad_norm_(self.raw_model.parameters(), max_norm)
        for opt in self.optimizers:
            self.scaler.step(opt)
        self.scaler.update()
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)
        return total

    # --- evaluation, rows and checkpoints -------------------------------------------------------

    @torch.no_grad()
    def _mean_loss(self, windows: torch.Tensor) -> float:
        """Mean loss over this rank's share of fixed windows, summed over all ranks."""
        self.model.eval()
        shard = windows[self.dist.rank::self.dist.world_size]
        total = torch.zeros(2, device=self.rt.device, dtype=torch.float64)
        batch = max(self.cfg.batch_size, 32)
        for i in range(0, len(shard), batch):
            w = shard[i:i + batch]
            with self.rt.autocast():
                _, loss = self.raw_model(w[:, :-1], w[:, 1:])
            total[0] += loss.double() * len(w)
            total[1] += len(w)
        if self.dist.world_size > 1:
            dist.all_reduce(total)
        return (total[0] / total[1]).item()

    def _evaluate(self) -> None:
        t0 = time.perf_counter()
        val = self._mean_loss(self.val_windows)
        train = self._mean_loss(self.train_windows)
        if not math.isfinite(val):
            raise TrainingFailed(
                f"val loss became {val} at step {self.step}; lower learning_rate "
                "(last.pt holds the last good weights)."
            )
        improved = val < self.best_val
        self.best_val = min(self.best_val, val)
        self._log({"kind": "eval", "step": self.step, "tokens": self.tokens,
                   "elapsed": round(self.elapsed_s, 3), "train_loss": train, "val_loss": val,
                   "best_val": self.best_val, "eval_s": round(time.perf_counter() - t0, 3)})
        self.status.update(force=True, step=self.step, val_loss=val, train_loss=train,
                           best_val=self.best_val)
        if self.step > 0:
            self._save_checkpoint(best=improved)

    def _log_train(self, loss: float, lr: float, tokens_per_s: float) -> None:
        peak = self.rt.peak_flops()
        per_device = tokens_per_s / self.dist.world_size
        mfu = per_device * self.raw_model.flops_per_token() / peak if peak else None
        memory = self.rt.memory()
        self._log({"kind": "train", "step": self.step, "tokens": self.tokens,
                   "elapsed": round(self.elapsed_s, 3), "loss": loss, "lr": lr,
                   "tokens_per_s": round(tokens_per_s, 1), "mfu": mfu,
                   "grad_norm": float(self.grad_norm), "memory": memory})
        self.status.update(step=self.step, loss=loss, lr=lr, tokens_per_s=round(tokens_per_s, 1),
                           mfu=mfu, memory=memory, tokens=self.tokens)

    def _log(self, row: dict[str, Any]) -> None:
        if self.metrics is None:
            return
        row["time"] = round(time.time(), 3)
        try:
            self.metrics.append(row)
        except OSError as exc:
            raise TrainingFailed(_disk_error("metrics.jsonl", exc)) from None
        if self.progress is not None:
            self.progress(row)

    def _rank_rng_states(self) -> list[dict[str, torch.Tensor]]:
        """Every rank's CPU and data RNG state, so that each rank resumes its own streams."""
        mine = {"torch": torch.get_rng_state(), "data": self.data_gen.get_state()}
        if self.dist.world_size == 1:
            return [mine]
        states: list[Any] = [None] * self.dist.world_size
        dist.all_gather_object(states, mine)
        return states

    def _save_checkpoint(self, best: bool) -> None:
        ranks = self._rank_rng_states()
        if not self.dist.is_main:
            return
        cuda_rng = torch.cuda.get_rng_state(self.rt.device) if self.rt.type == "cuda" else None
        state = {
            "model": self.raw_model.state_dict(),
            "optimizers": [opt.state_dict() for opt in self.optimizers],
            "scaler": self.scaler.state_dict(),
            "model_args": self.model_args,
            "iter_num": self.step,
            "best_val_loss": self.best_val,
            "tokens": self.tokens,
            "elapsed": self.elapsed_s,
            "config": self.cfg.to_dict(),
            "vocab": self.corpus.vocab.chars,
            "corpus_sha256": self.corpus.sha256,
            "rng": {"cuda": cuda_rng, "ranks": ranks},
        }
        try:
            save_checkpoint(self.run.checkpoint_path("last"), state)
            if best:
                save_checkpoint(self.run.checkpoint_path("best"), state)
        except OSError as exc:
            raise TrainingFailed(_disk_error("a checkpoint", exc)) from None
        self.status.update(force=True, checkpoint_step=self.step)


def _disk_error(what: str, exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return (f"disk full while writing {what} ({exc.strerror}); free space and resume "
                "(the previous checkpoint is intact).")
    return f"could not write {what} ({exc.strerror or exc}); check the run directory and resume."


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


def train(run: RunDir, resume: bool = False, progress: Progress | None = None) -> str:
    """Train the run in this process; return "done", "stopped" or "failed"."""
    return Trainer(run, run.read_config(), resume=resume, progress=progress).run_training()
