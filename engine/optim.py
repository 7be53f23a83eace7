"""Optimizers and the learning-rate schedule."""

from __future__ import annotations

import math
from collections import defaultdict

import torch
import torch.nn as nn

from engine.config import TrainConfig

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def orthogonalize(g: torch.Tensor, steps: int = 5, eps: float = 1e-7) -> torch.Tensor:
    """Newton-Schulz approximation of U V^T for a stack of matrices (batch, rows, cols).

    The same quintic iteration as torch.optim.Muon, in bfloat16, but batched: at our model sizes
    a matrix is tiny and launching kernels per matrix costs more than the arithmetic.
    """
    a, b, c = NS_COEFFICIENTS
    x = g.bfloat16()
    tall = g.size(-2) > g.size(-1)
    if tall:
        x = x.mT
    x = x / x.flatten(1).norm(dim=1).clamp(min=eps)[:, None, None]
    for _ in range(steps):
        gram = x @ x.mT
        update = torch.baddbmm(gram, gram, gram, beta=b, alpha=c)
        x = torch.baddbmm(x, update, x, beta=a)
    return x.mT if tall else x


class Muon(torch.optim.Optimizer):
    """Momentum whose update is orthogonalized; for the 2-D weights inside the blocks only.

    Matches torch.optim.Muon (Nesterov, "original" lr adjustment sqrt(max(1, rows/cols)),
    decoupled weight decay) while orthogonalizing same-shape matrices in one batch.
    """

    def __init__(self, params, lr: float = 0.02, momentum: float = 0.95,
                 weight_decay: float = 0.0, nesterov: bool = True, ns_steps: int = 5) -> None:
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov,
                        ns_steps=ns_steps)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError("Muon takes 2-D parameters only")

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            by_shape: dict[torch.Size, list[torch.Tensor]] = defaultdict(list)
            for p in group["params"]:
                if p.grad is not None:
                    by_shape[p.shape].append(p)
            lr, momentum = group["lr"], group["momentum"]
            for shape, params in by_shape.items():
                grads = [p.grad for p in params]
                bufs = [self.state[p].setdefault("momentum_buffer", torch.zeros_like(p))
                        for p in params]
                torch._foreach_lerp_(bufs, grads, 1 - momentum)
                stacked = torch.stack(bufs)
                if group["nesterov"]:
                    stacked = torch.stack(grads).lerp_(stacked, momentum)
                updates = orthogonalize(stacked, group["ns_steps"]).to(params[0].dtype)
                torch._foreach_mul_(params, 1 - lr * group["weight_decay"])
                scale = math.sqrt(max(1.0, shape[0] / shape[1]))
                torch._foreach_add_(params, list(updates.unbind(0)), alpha=-lr * scale)


def _adamw(groups: list[dict], cfg: TrainConfig, device_type: str) -> torch.optim.AdamW:
    # Fused AdamW runs on CUDA and (since torch 2.4) on CPU, where it is also cheaper per step.
    fused = device_type in ("cuda", "cpu")
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2),
                             fused=fused)


def configure_optimizers(model: nn.Module, cfg: TrainConfig,
                         device_type: str) -> list[torch.optim.Optimizer]:
    """nanoGPT's AdamW groups (decay only 2-D weights); with Muon, it takes the blocks' matrices.

    Each group remembers its peak lr in "peak_lr"; `set_lr` scales all of them by the schedule.
    """
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    hidden = {name for name, p in params.items()
              if cfg.optimizer == "muon" and p.ndim == 2 and ".h." in f".{name}"}
    decay = [p for name, p in params.items() if p.ndim >= 2 and name not in hidden]
    no_decay = [p for p in params.values() if p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay, "peak_lr": cfg.learning_rate},
        {"params": no_decay, "weight_decay": 0.0, "peak_lr": cfg.learning_rate},
    ]
    optimizers: list[torch.optim.Optimizer] = [
        _adamw([g for g in groups if g["params"]], cfg, device_type)
    ]
    if hidden:
        muon = Muon([params[name] for name in sorted(hidden)], lr=cfg.muon_lr,
                    momentum=cfg.muon_momentum, weight_decay=cfg.weight_decay)
        muon.param_groups[0]["peak_lr"] = cfg.muon_lr
        optimizers.append(muon)
    return optimizers


def lr_at(step: int, cfg: TrainConfig) -> float:
    """nanoGPT's schedule: linear warmup, cosine decay to min_lr, then constant."""
    if not cfg.decay_lr:
        return cfg.learning_rate
    if step < cfg.warmup_iters:
        return cfg.learning_rate * (step + 1) / (cfg.warmup_iters + 1)
    if step >= cfg.decay_iters:
        return cfg.min_lr
    ratio = (step - cfg.warmup_iters) / max(1, cfg.decay_iters - cfg.warmup_iters)
    coeff = 0.5 * (1.0 + math.cos(math.pi * ratio))
    return cfg.min_lr + coeff * (cfg.learning_rate - cfg.min_lr)


def set_lr(optimizers: list[torch.optim.Optimizer], step: int, cfg: TrainConfig) -> float:
    lr = lr_at(step, cfg)
    factor = lr / cfg.learning_rate
    for opt in optimizers:
        for group in opt.param_groups:
            group["lr"] = group["peak_lr"] * factor
    return lr
