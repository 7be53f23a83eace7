"""The models: the lecture's bigram baseline and a nanoGPT-style GPT.

The GPT keeps nanoGPT's parameter names and shapes (`transformer.wte`,
`transformer.h.N.attn.c_attn`, ... `lm_head`), so a nanoGPT `ckpt.pt` loads into it unchanged.
Two additions: rotary positions as an option (`pos_emb = "rope"`, which drops `wpe`), and a KV
cache for sampling.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F


@dataclass
class GPTConfig:
    block_size: int = 64
    vocab_size: int = 65
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = False
    pos_emb: str = "learned"


class KVCache:
    """Keys and values of every layer for the positions seen so far, up to `capacity`."""

    def __init__(self, n_layer: int, batch: int, n_head: int, head_dim: int, capacity: int,
                 device: torch.device, dtype: torch.dtype) -> None:
        shape = (n_layer, batch, n_head, capacity, head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.capacity = capacity
        self.length = 0

    def store(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write the new positions of one layer; return all positions held for it."""
        end = self.length + k.size(2)
        self.k[layer, :, :, self.length:end] = k
        self.v[layer, :, :, self.length:end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]

    def advance(self, count: int) -> None:
        self.length += count

    def reset(self) -> None:
        self.length = 0


class Rotary(nn.Module):
    """Rotary position embedding: rotates query and key pairs by a position-dependent angle."""

    def __init__(self, head_dim: int, max_positions: int, base: float = 10000.0) -> None:
        super().__init__()
        inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        angles = torch.outer(torch.arange(max_positions, dtype=torch.float32), inv_freq)
        # Derived from the shape alone, so kept out of the state dict (nanoGPT's keys stay exact).
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x: torch.Tensor, start: int) -> torch.Tensor:
        cos = self.cos[start:start + x.size(-2)].to(x.dtype)
        sin = self.sin[start:start + x.size(-2)].to(x.dtype)
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head = config.n_head
        self.dropout = config.dropout
        head_dim = config.n_embd // config.n_head
        self.rotary = Rotary(head_dim, config.block_size) if config.pos_emb == "rope" else None

    def forward(
        self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0
    ) -> torch.Tensor:
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        start = cache.length if cache is not None else 0
        if self.rotary is not None:
            q, k = self.rotary(q, start), self.rotary(k, start)
        if cache is not None:
            k, v = cache.store(layer, k, v)
        # A prefill (start 0) is causal; one new position attends to everything held.
        assert start == 0 or T == 1, "the cache takes a prefill from empty, then one position"
        y = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=T > 1
        )
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(
        self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0
    ) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer)
        return x + self.mlp(self.ln_2(x))


def _loss(logits: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor | None:
    if targets is None:
        return None
    return F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.reshape(-1))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        layers = dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList(Block(config) for _ in range(config.n_layer)),
            ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
        )
        if config.pos_emb == "learned":
            layers["wpe"] = nn.Embedding(config.block_size, config.n_embd)
        self.transformer = nn.ModuleDict(layers)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying, as in nanoGPT
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # scaled init of residual projections (GPT-2)
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_params(self, non_embedding: bool = True) -> int:
        """Parameter count; like nanoGPT, position embeddings are left out by default."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding and "wpe" in self.transformer:
            n -= self.transformer.wpe.weight.numel()
        return n

    def flops_per_token(self) -> float:
        """Training FLOPs per token (PaLM appendix B, as nanoGPT's estimate_mfu)."""
        c = self.config
        return 6 * self.num_params() + 12 * c.n_layer * c.n_embd * c.block_size

    def new_cache(self, batch: int = 1) -> KVCache:
        c = self.config
        p = self.lm_head.weight
        return KVCache(c.n_layer, batch, c.n_head, c.n_embd // c.n_head, c.block_size,
                       p.device, p.dtype)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None, cache: KVCache | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits for every position with targets; otherwise only for the last one."""
        start = cache.length if cache is not None else 0
        T = idx.size(1)
        assert start + T <= self.config.block_size, "sequence longer than block_size"
        x = self.transformer.wte(idx)
        if "wpe" in self.transformer:
            x = x + self.transformer.wpe(torch.arange(start, start + T, device=idx.device))
        x = self.transformer.drop(x)
        for layer, block in enumerate(self.transformer.h):
            x = block(x, cache, layer)
        if cache is not None:
            cache.advance(T)
        x = self.transformer.ln_f(x)
        if targets is None:
            return self.lm_head(x[:, [-1], :]), None
        logits = self.lm_head(x)
        return logits, _loss(logits, targets)


class BigramLanguageModel(nn.Module):
    """The lecture's baseline: each character's next-character logits are a row of one table."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.token_embedding_table = nn.Embedding(config.vocab_size, config.vocab_size)

    def num_params(self, non_embedding: bool = True) -> int:
        return sum(p.numel() for p in self.parameters())

    def flops_per_token(self) -> float:
        return 6 * self.num_params()

    def new_cache(self, batch: int = 1) -> KVCache:
        # Nothing to cache (only the last character matters), but the position count keeps the
        # sampler's window logic the same for both models.
        p = self.token_embedding_table.weight
        return KVCache(0, batch, 1, 1, self.config.block_size, p.device, p.dtype)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None, cache: KVCache | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if cache is not None:
            cache.advance(idx.size(1))
        if targets is None:
            idx = idx[:, -1:]
        logits = self.token_embedding_table(idx)
        return logits, _loss(logits, targets)


Model = GPT | BigramLanguageModel


def model_args(kind: str, config: GPTConfig) -> dict:
    """What a checkpoint records to rebuild the model (nanoGPT's `model_args`, plus the kind)."""
    return {"model": kind, **asdict(config)}


def build_model(args: dict) -> Model:
    args = dict(args)
    kind = args.pop("model", "gpt")
    config = GPTConfig(**{k: v for k, v in args.items() if k in GPTConfig.__dataclass_fields__})
    return BigramLanguageModel(config) if kind == "bigram" else GPT(config)
