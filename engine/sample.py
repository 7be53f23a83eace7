"""Streaming generation: text character by character, one position through the model per character.

After the prompt's prefill, each new character runs a single position through the model against
a KV cache (`Decoder`). The cache holds at most `block_size` positions. When it is full, the next
character resets it and re-prefills the last `keep` characters plus the new one, then generation
goes on one position per character. The same mechanism serves learned and rotary positions:
positions always start at 0 after a reset, exactly as in training.

What the window costs: the model's context varies between `keep + 1` and `block_size`
characters, and a cycle of `block_size - keep` characters runs `block_size` positions in all, so
past the window a character costs `block_size / (block_size - keep)` = 1 + keep/(block_size -
keep) positions on average (2 with the default keep = block_size // 2) instead of the
`block_size` positions of a full recompute (nanoGPT's `generate()`). `keep = block_size - 1`
gives nanoGPT's exact sliding context (always the last block_size characters) at its full cost.

The vocabulary comes from the checkpoint, so sampling never needs the corpus.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.checkpoint import load_checkpoint, model_from_checkpoint, vocab_of
from engine.errors import UserError
from engine.model import KVCache, Model
from engine.runstore import BEST_CKPT, RunDir
from engine.vocab import Vocab, describe_chars

CHECKPOINTS = ("best", "last")
# What an empty prompt starts from: nanoGPT's sample.py default.
EMPTY_PROMPT = "\n"


def check_prompt(vocab: Vocab, prompt: str) -> None:
    """Refuse a prompt with characters the model has no id for, naming them."""
    unknown = vocab.unknown(prompt)
    if unknown:
        raise UserError(f"prompt has characters the model never saw: {describe_chars(unknown)}; "
                        "use only characters from its vocabulary")


def random_seed() -> int:
    """A fresh seed for a sample asked for without one; report it so it can be reproduced."""
    return secrets.randbits(31)


class Decoder:
    """Next-character logits for a growing text, through a KV cache with the window policy above.

    `context` is exactly the ids the cache holds: the logits returned are those of
    `model(context)` for its last position.
    """

    def __init__(self, model: Model, keep: int | None = None) -> None:
        self.model = model
        self.block_size = model.config.block_size
        self.keep = self.block_size // 2 if keep is None else keep
        if not 0 <= self.keep < self.block_size:
            raise UserError(f"keep must be from 0 to {self.block_size - 1} (the context window "
                            f"is {self.block_size}); got {self.keep}")
        self.device = next(model.parameters()).device
        self.context: list[int] = []
        self.positions_run = 0  # positions through the model so far: what the window costs
        self.cache: KVCache | None = None

    @torch.inference_mode()
    def start(self, ids: list[int]) -> torch.Tensor:
        """Prefill the last block_size ids (at least one); return the next-character logits."""
        assert ids, "a prefill needs at least one character"
        if self.cache is None:  # made here, so its tensors are inference tensors like the rest
            self.cache = self.model.new_cache()
        return self._prefill(ids[-self.block_size:])

    @torch.inference_mode()
    def push(self, token: int) -> torch.Tensor:
        """Append one id; return the logits for the character after it."""
        if len(self.context) < self.block_size:
            self.context.append(token)
            return self._run([token])
        return self._prefill([*self.context[len(self.context) - self.keep:], token])

    def _prefill(self, ids: list[int]) -> torch.Tensor:
        self.cache.reset()
        self.context = list(ids)
        return self._run(ids)

    def _run(self, ids: list[int]) -> torch.Tensor:
        idx = torch.tensor([ids], dtype=torch.long, device=self.device)
        logits, _ = self.model(idx, cache=self.cache)
        self.positions_run += len(ids)
        return logits[0, -1]


def pick(logits: torch.Tensor, temperature: float, top_k: int | None,
         generator: torch.Generator) -> int:
    """The next id: argmax at temperature 0, else a draw from the tempered, top-k-masked softmax."""
    if temperature == 0:
        return int(torch.argmax(logits))
    logits = logits.float() / temperature
    if top_k and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, -math.inf)
    probs = torch.softmax(logits, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


MAX_SEED = 2**64 - 1  # what torch.Generator.manual_seed takes


def check_settings(chars: int, temperature: float, top_k: int | None, seed: int) -> None:
    if chars < 0:
        raise UserError(f"chars must not be negative; got {chars}")
    if not (temperature >= 0 and math.isfinite(temperature)):
        raise UserError(f"temperature must be 0 (greedy) or positive; got {temperature}")
    if top_k is not None and top_k < 0:
        raise UserError(f"top-k must be positive, or 0 for off; got {top_k}")
    if not 0 <= seed <= MAX_SEED:
        raise UserError(f"seed must be from 0 to 2**64 - 1; got {seed}")


def stream_tokens(model: Model, vocab: Vocab, prompt: str, chars: int, *,
                  temperature: float = 0.8, top_k: int | None = None, seed: int,
                  keep: int | None = None) -> Iterator[str]:
    """Yield `chars` generated characters one at a time, continuing `prompt` (model in eval mode).

    The prompt and settings are checked here, before the first character is asked for. An empty
    prompt starts from a newline; a prompt longer than the window is prefilled from its last
    block_size characters. Same seed and settings on the same device: the same text.
    """
    check_prompt(vocab, prompt)
    check_settings(chars, temperature, top_k, seed)
    if not prompt and vocab.unknown(EMPTY_PROMPT):
        raise UserError("this model's vocabulary has no newline to start from; give a prompt")
    decoder = Decoder(model, keep)
    generator = torch.Generator(device=decoder.device).manual_seed(seed)
    return _generate(decoder, vocab, vocab.encode(prompt or EMPTY_PROMPT), chars, temperature,
                     top_k, generator)


def _generate(decoder: Decoder, vocab: Vocab, ids: list[int], chars: int, temperature: float,
              top_k: int | None, generator: torch.Generator) -> Iterator[str]:
    if chars == 0:
        return
    logits = decoder.start(ids)
    for n in range(chars):
        token = pick(logits, temperature, top_k, generator)
        yield vocab.chars[token]
        if n + 1 < chars:
            logits = decoder.push(token)


@dataclass
class LoadedRun:
    """A checkpoint loaded for sampling, and what a viewer says about it."""

    model: Model
    vocab: Vocab
    run_dir: Path
    checkpoint: str  # "best" or "last": the file actually loaded
    path: Path
    step: int
    best_val: float | None
    params: int
    device: str
    load_s: float


def checkpoint_file(run: RunDir, checkpoint: str | None) -> tuple[str, Path]:
    """Which checkpoint to load: None means best, or last while there is no best yet."""
    if not run.path.is_dir():
        raise UserError(f"there is no run directory {run.path}")
    if checkpoint is None:
        checkpoint = "best" if run.checkpoint_path("best").exists() else "last"
    if checkpoint not in CHECKPOINTS:
        raise UserError(f"checkpoint must be best or last; got {checkpoint!r}")
    path = run.checkpoint_path(checkpoint)
    if checkpoint == "best" and not path.exists():
        raise UserError(f"run {run.id} has no {BEST_CKPT} yet; use the last checkpoint "
                        "or wait for the first eval")
    return checkpoint, path


def sampling_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# At batch 1 the matrix products are tiny: a CPU thread pool's hand-offs cost more than they
# save, and beside a training worker on the same cores its spin-waits collapse (measured on
# 2 cores with a worker running, a 27k-parameter model: 900 chars/s on one thread, 30-200 on two).
CPU_SAMPLING_THREADS = 1


@contextmanager
def sampling_threads() -> Iterator[None]:
    """Run the block on CPU_SAMPLING_THREADS CPU threads (no change with a GPU), then restore."""
    previous = torch.get_num_threads()
    if sampling_device().type == "cpu":
        torch.set_num_threads(CPU_SAMPLING_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def load_for_sampling(run_dir: Path, checkpoint: str | None = None) -> LoadedRun:
    """Load a run's checkpoint in eval mode on the GPU if there is one, else the CPU."""
    t0 = time.perf_counter()
    run = RunDir(run_dir)
    which, path = checkpoint_file(run, checkpoint)
    device = sampling_device()
    ckpt = load_checkpoint(path, map_location=device)
    model = model_from_checkpoint(ckpt, device)
    best_val = ckpt.get("best_val_loss")
    return LoadedRun(
        model=model, vocab=vocab_of(ckpt), run_dir=run.path, checkpoint=which, path=path,
        step=int(ckpt.get("iter_num", 0)),
        best_val=float(best_val) if best_val is not None and math.isfinite(best_val) else None,
        params=model.num_params(), device=str(device), load_s=time.perf_counter() - t0,
    )
