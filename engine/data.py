"""Training data as tensors: the corpus as character ids, split 90/10, batches and eval windows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from engine.corpus import TRAIN_FRACTION, check_split_lengths, corpus_path, read_text, sha256
from engine.vocab import Vocab


@dataclass
class Corpus:
    """A whole text as one tensor of character ids, split 90/10 into train and val."""

    path: Path
    sha256: str
    vocab: Vocab
    train: torch.Tensor
    val: torch.Tensor

    def check_block_size(self, block_size: int) -> None:
        check_split_lengths(self.path, min(len(self.train), len(self.val)), block_size)


def load_corpus(data: str) -> Corpus:
    path = corpus_path(data)
    text = read_text(path)
    vocab = Vocab.from_text(text)
    ids = torch.tensor(vocab.encode(text), dtype=torch.long)
    n = int(TRAIN_FRACTION * len(ids))
    return Corpus(path, sha256(text.encode("utf-8")), vocab, ids[:n], ids[n:])


def get_batch(
    split: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows of a split: inputs and the targets one character ahead."""
    # The generator lives on the CPU (its state is checkpointed); the split may be on a GPU.
    starts = torch.randint(len(split) - block_size, (batch_size,), generator=generator)
    offsets = starts[:, None] + torch.arange(block_size + 1)
    windows = split[offsets.to(split.device)]
    return windows[:, :-1], windows[:, 1:]


def eval_windows(split: torch.Tensor, block_size: int, limit: int = 0) -> torch.Tensor:
    """Fixed windows of block_size + 1 characters; with `limit`, that many spread evenly.

    Without a limit the windows tile the whole split, so every character is scored once.
    """
    count = (len(split) - 1) // block_size
    starts = torch.arange(count) * block_size
    if limit and count > limit:
        starts = starts[torch.linspace(0, count - 1, limit).round().long()]
    return split[starts[:, None] + torch.arange(block_size + 1)]
