"""Import a nanoGPT output directory (`ckpt.pt` plus the char-level `meta.pkl`) as a run of ours.

nanoGPT's GPT has our parameter names, so its weights load unchanged once two things are
removed: the `_orig_mod.` prefix a `torch.compile`d model adds to every key, and the causal-mask
buffers (`attn.bias`, shape 1x1xTxT) that nanoGPT keeps when flash attention is unavailable.
The vocabulary comes from `meta.pkl` (nanoGPT's `data/<dataset>/prepare.py` writes it); GPT-2
BPE checkpoints have none and are refused for now.
"""

from __future__ import annotations

import math
import pickle
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any

import torch

from engine import config as config_mod
from engine.checkpoint import save_checkpoint
from engine.config import TrainConfig
from engine.errors import UserError
from engine.model import GPT, GPTConfig, model_args
from engine.runstore import RunDir, RunStore
from engine.vocab import Vocab

NANOGPT_CKPT = "ckpt.pt"
NANOGPT_META = "meta.pkl"
GPT2_VOCAB_SIZES = (50257, 50304)  # the GPT-2 tokenizer, and nanoGPT's padded default
COMPILED_PREFIX = "_orig_mod."
MODEL_KEYS = ("n_layer", "n_head", "n_embd", "block_size", "bias", "vocab_size", "dropout")
# nanoGPT's "never evaluated" best_val_loss.
NO_EVAL_LOSS = 1e9
BPE_REFUSAL = ("BPE (GPT-2 tokenizer) checkpoints are not supported yet; "
               "import a char-level run (with meta.pkl)")


_META_TYPES = {("builtins", "dict"): dict, ("builtins", "int"): int, ("builtins", "str"): str}


class _MetaUnpickler(pickle.Unpickler):
    """meta.pkl is a plain dict of ints and strings: anything else is refused, not executed."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _META_TYPES:
            raise pickle.UnpicklingError(f"meta.pkl refers to {module}.{name}")
        return _META_TYPES[module, name]


def read_meta(path: Path) -> Vocab:
    """The character vocabulary of a nanoGPT meta.pkl, in id order."""
    try:
        with path.open("rb") as f:
            meta = _MetaUnpickler(f).load()
        itos = meta["itos"]
        chars = "".join(itos[i] for i in range(len(itos)))
    except (OSError, pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path} is not a char-level nanoGPT meta.pkl ({exc}).") from None
    if meta.get("vocab_size") in GPT2_VOCAB_SIZES:
        raise UserError(BPE_REFUSAL)
    if len(chars) != len(itos) or len(set(chars)) != len(chars):
        raise UserError(f"{path}: itos must map ids 0..N-1 to N distinct single characters.")
    return Vocab(chars)


def find_meta(source: Path, ckpt: dict[str, Any]) -> Path | None:
    """meta.pkl beside ckpt.pt, or where nanoGPT's sample.py looks: data/<dataset>/ of the
    repository that holds the output directory."""
    dataset = (ckpt.get("config") or {}).get("dataset")
    candidates = [source / NANOGPT_META]
    if isinstance(dataset, str) and dataset:
        candidates.append(source.parent / "data" / dataset / NANOGPT_META)
    return next((p for p in candidates if p.is_file()), None)


def read_nanogpt_checkpoint(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UserError(f"there is no {NANOGPT_CKPT} in {path.parent}; "
                        "point at nanoGPT's out_dir.")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, pickle.UnpicklingError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path} is not a readable checkpoint ({first_line}).") from None
    if not isinstance(ckpt, dict) or not {"model", "model_args"} <= set(ckpt):
        raise UserError(f"{path} is not a nanoGPT checkpoint (no model and model_args).")
    return ckpt


def clean_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip the compiled-model prefix and drop the causal-mask buffers (not the c_attn biases)."""
    cleaned = {}
    for key, tensor in state.items():
        key = key.removeprefix(COMPILED_PREFIX)
        is_mask = key.endswith((".attn.bias", ".attn.masked_bias")) and tensor.dim() == 4
        if not is_mask:
            cleaned[key] = tensor
    return cleaned


def _train_config(args: dict[str, Any], nanogpt_config: dict[str, Any], step: int) -> TrainConfig:
    """Our config for the run: nanoGPT's values where the keys match, the model's shape always."""
    values: dict[str, Any] = {}
    for key, value in nanogpt_config.items():
        # device names the machine it trained on, and a value of another type keeps our default
        if key in config_mod.FIELDS and key != "device":
            try:
                config_mod.from_dict({key: value})
            except (UserError, TypeError):
                continue
            values[key] = value
    values.update({k: args[k] for k in MODEL_KEYS if k != "vocab_size"})
    values.update(model="gpt", pos_emb="learned")
    values.setdefault("max_iters", max(step, 1))
    try:
        return config_mod.from_dict(values).validate()
    except UserError:  # a training setting we cannot express: keep the shape, drop the rest
        shape = {k: values[k] for k in MODEL_KEYS if k in values}
        return config_mod.from_dict({**shape, "max_iters": max(step, 1)}).validate()


def import_nanogpt(source: Path, store: RunStore, name: str = "",
                   meta_path: Path | None = None) -> RunDir:
    """Turn nanoGPT's `ckpt.pt` (+ `meta.pkl`) into a run with state "imported"; return it."""
    source = Path(source)
    ckpt = read_nanogpt_checkpoint(source / NANOGPT_CKPT)
    args = ckpt["model_args"]
    missing = [k for k in MODEL_KEYS if k not in args]
    if missing:
        raise UserError(f"{source / NANOGPT_CKPT}: model_args lacks {', '.join(missing)}.")
    if args["vocab_size"] in GPT2_VOCAB_SIZES:
        raise UserError(BPE_REFUSAL)
    meta_path = meta_path or find_meta(source, ckpt)
    if meta_path is None:
        raise UserError(f"no {NANOGPT_META} in {source} or its data/<dataset>/ directory; "
                        "pass --meta with the meta.pkl of the char-level dataset.")
    vocab = read_meta(meta_path)
    if len(vocab) != args["vocab_size"]:
        raise UserError(f"{meta_path} has {len(vocab)} characters but the model has "
                        f"{args['vocab_size']} outputs; pass the meta.pkl it was trained with.")

    gpt_config = GPTConfig(**{k: args[k] for k in MODEL_KEYS})
    model = GPT(gpt_config)
    try:
        model.load_state_dict(clean_state_dict(ckpt["model"]))
    except RuntimeError as exc:
        raise UserError(f"{source / NANOGPT_CKPT} does not fit a GPT of its model_args "
                        f"({str(exc).splitlines()[0]}).") from None
    step = int(ckpt.get("iter_num", 0))
    best = float(ckpt.get("best_val_loss", math.inf))
    best_val = best if math.isfinite(best) and best < NO_EVAL_LOSS else None
    cfg = _train_config(args, ckpt.get("config") or {}, step)

    run = store.create(cfg, name=name or source.resolve().name, preset="nanogpt")
    try:
        _write_run(run, model, gpt_config, vocab, cfg, step, best_val, source)
    except BaseException:  # a half-written run would list as broken: leave none
        shutil.rmtree(run.path, ignore_errors=True)
        raise
    return run


def _write_run(run: RunDir, model: GPT, gpt_config: GPTConfig, vocab: Vocab, cfg: TrainConfig,
               step: int, best_val: float | None, source: Path) -> None:
    """Our checkpoint format (see Trainer._save_checkpoint), without optimizer or RNG state."""
    state = {
        "model": model.state_dict(),
        "optimizers": [],
        "model_args": model_args("gpt", gpt_config),
        "iter_num": step,
        "best_val_loss": best_val if best_val is not None else math.inf,
        "config": cfg.to_dict(),
        "vocab": vocab.chars,
        "corpus_sha256": None,  # nanoGPT records no hash of its text
        "imported_from": str(source.resolve()),
    }
    for which in ("last", "best"):
        save_checkpoint(run.checkpoint_path(which), state)
    run.write_status({"state": "imported", "step": step, "best_val": best_val,
                      "params": model.num_params(), "max_iters": cfg.max_iters,
                      "source": str(source.resolve()), "updated": time.time()})
