"""Sampling speed: the KV-cache sampler against a full-recompute sampler (nanoGPT's generate()).

    python bench/sample_speed.py [--chars 1000] [--threads 1]

For the `baby` shape (context 64) and the `shakespeare-char` shape (context 256), with random
weights saved as a run and loaded back the way the sampler loads them, it measures:

- full recompute: every character re-runs the last block_size characters through the model,
  exactly as nanoGPT's `generate()` does (crop to the window, forward, sample);
- KV cache: `engine.sample.stream_tokens`, one position per character, re-prefilling `keep`
  characters when the window fills (see engine/sample.py for the cost);
- time to the first character after the checkpoint is loaded (prefill of the prompt plus one
  draw), and the load itself.

Both samplers use the same weights, prompt (a newline), temperature 1 and seed. nanoGPT measured
on a 2-core CPU: about 22 chars/s at context 256 and 330-390 chars/s at context 64.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from engine import config as config_mod
from engine.checkpoint import save_checkpoint
from engine.model import GPT, GPTConfig, model_args
from engine.runstore import RunStore
from engine.sample import Decoder, load_for_sampling, pick, stream_tokens
from engine.vocab import Vocab

SHAPES = ("baby", "shakespeare-char")
# Tiny Shakespeare's 65 characters; only their count matters to the speed.
VOCAB = Vocab("\n" + "".join(chr(c) for c in range(32, 96)))


def full_recompute(model: GPT, ids: list[int], chars: int, temperature: float,
                   seed: int) -> Iterator[str]:
    """nanoGPT's generate(), streamed: the whole cropped context through the model per char."""
    generator = torch.Generator(device=model.lm_head.weight.device).manual_seed(seed)
    idx = torch.tensor([ids], dtype=torch.long, device=model.lm_head.weight.device)
    block_size = model.config.block_size
    with torch.inference_mode():
        for _ in range(chars):
            logits, _ = model(idx[:, -block_size:])
            token = pick(logits[0, -1], temperature, None, generator)
            idx = torch.cat((idx, idx.new_tensor([[token]])), dim=1)
            yield VOCAB.chars[token]


def chars_per_s(stream: Iterator[str], chars: int) -> tuple[float, float]:
    """(characters per second, seconds to the first character) over the whole stream."""
    start = time.perf_counter()
    first = None
    for _ in stream:
        first = first if first is not None else time.perf_counter() - start
    seconds = time.perf_counter() - start
    return chars / seconds, first or 0.0


def random_run(shape: str, root: Path) -> Path:
    """A run holding a randomly initialised model of the preset's shape, as best.pt."""
    cfg = config_mod.get_preset(shape).config()
    gpt_config = GPTConfig(block_size=cfg.block_size, vocab_size=len(VOCAB), n_layer=cfg.n_layer,
                           n_head=cfg.n_head, n_embd=cfg.n_embd, bias=cfg.bias)
    torch.manual_seed(1337)
    model = GPT(gpt_config)
    run = RunStore(root).create(cfg, name=shape, preset=shape)
    save_checkpoint(run.checkpoint_path("best"), {
        "model": model.state_dict(), "model_args": model_args("gpt", gpt_config),
        "iter_num": 0, "best_val_loss": float("inf"), "config": cfg.to_dict(),
        "vocab": VOCAB.chars, "corpus_sha256": None, "optimizers": [],
    })
    return run.path


def measure(shape: str, chars: int, root: Path) -> dict[str, float | int | str]:
    loaded = load_for_sampling(random_run(shape, root), "best")
    model, block_size = loaded.model, loaded.model.config.block_size
    prompt_ids = VOCAB.encode("\n")
    _, first_s = chars_per_s(stream_tokens(model, VOCAB, "", 1, temperature=1.0, seed=0), 1)
    full, _ = chars_per_s(full_recompute(model, prompt_ids, chars, 1.0, seed=1), chars)
    cached, _ = chars_per_s(stream_tokens(model, VOCAB, "", chars, temperature=1.0, seed=1),
                            chars)
    decoder = Decoder(model)  # the window's cost in positions per character, for the table
    decoder.start(prompt_ids)
    for _ in range(chars - 1):
        decoder.push(0)
    return {"shape": shape, "context": block_size, "params": loaded.params, "full": full,
            "cached": cached, "first_ms": first_s * 1000, "load_ms": loaded.load_s * 1000,
            "positions": decoder.positions_run / chars, "keep": decoder.keep}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for both samplers (the sampler process uses 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"device {device}, {torch.get_num_threads()} CPU thread(s), {os.cpu_count()} cores, "
          f"load average {load:.2f}, torch {torch.__version__}, {args.chars} chars, "
          "temperature 1, prompt a newline")
    header = (f"{'shape':17} {'ctx':>4} {'params':>7} {'full chars/s':>12} {'KV chars/s':>11} "
              f"{'ratio':>6} {'1st char ms':>11} {'load ms':>8} {'pos/char':>9}")
    print(header)
    with tempfile.TemporaryDirectory() as tmp:
        for shape in SHAPES:
            r = measure(shape, args.chars, Path(tmp))
            print(f"{r['shape']:17} {r['context']:>4} {r['params'] / 1e6:>6.2f}M "
                  f"{r['full']:>12.1f} {r['cached']:>11.1f} {r['cached'] / r['full']:>5.1f}x "
                  f"{r['first_ms']:>11.1f} {r['load_ms']:>8.1f} {r['positions']:>9.2f}")
    print("pos/char: positions run through the model per character with the KV cache "
          "(keep = context // 2: re-prefill half the window when it fills, so about "
          "context / (context - keep) = 2 per character past the window, against `context` "
          "for full recompute).")


if __name__ == "__main__":
    main()
