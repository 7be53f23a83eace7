"""`nanogpt-tui import-nanogpt`: a nanoGPT out_dir becomes a run that samples like its source."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from engine.model import GPT, GPTConfig
from engine.runstore import RunStore
from engine.sample import load_for_sampling
from nanogpt_tui.cli import main

CHARS = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # Tiny Shakespeare's


def nanogpt_config(**changes) -> dict:
    """The `config` dict nanoGPT's train.py stores: every global of its config section."""
    config = dict(
        out_dir="out-shakespeare-char", eval_interval=250, log_interval=10, eval_iters=200,
        eval_only=False, always_save_checkpoint=False, init_from="scratch", wandb_log=False,
        wandb_project="shakespeare-char", wandb_run_name="mini-gpt", dataset="shakespeare_char",
        gradient_accumulation_steps=1, batch_size=64, block_size=32, n_layer=2, n_head=2,
        n_embd=32, dropout=0.2, bias=True, learning_rate=1e-3, max_iters=5000,
        weight_decay=1e-1, beta1=0.9, beta2=0.99, grad_clip=1.0, decay_lr=True,
        warmup_iters=100, lr_decay_iters=5000, min_lr=1e-4, backend="nccl", device="cuda",
        dtype="bfloat16", compile=True,
    )
    return {**config, **changes}


def write_nanogpt_out_dir(out_dir: Path, model: GPT, vocab_size: int, meta: bool = True) -> None:
    """ckpt.pt as nanoGPT's train.py writes it after torch.compile, with the causal-mask buffers
    of its non-flash attention, plus meta.pkl as data/shakespeare_char/prepare.py writes it."""
    cfg = model.config
    state = {}
    for key, tensor in model.state_dict().items():
        state[f"_orig_mod.{key}"] = tensor
    for layer in range(cfg.n_layer):
        mask = torch.tril(torch.ones(cfg.block_size, cfg.block_size))
        state[f"_orig_mod.transformer.h.{layer}.attn.bias"] = mask.view(1, 1, cfg.block_size,
                                                                         cfg.block_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
    model_args = dict(n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd,
                      block_size=cfg.block_size, bias=cfg.bias, vocab_size=vocab_size,
                      dropout=cfg.dropout)
    out_dir.mkdir(parents=True)
    torch.save({
        "model": state, "optimizer": optimizer.state_dict(), "model_args": model_args,
        "iter_num": 250, "best_val_loss": torch.tensor(2.0625), "config": nanogpt_config(),
    }, out_dir / "ckpt.pt")
    if meta:
        itos = dict(enumerate(CHARS))
        with (out_dir / "meta.pkl").open("wb") as f:
            pickle.dump({"vocab_size": len(CHARS), "itos": itos,
                         "stoi": {ch: i for i, ch in itos.items()}}, f)


def source_model(vocab_size: int = len(CHARS)) -> GPT:
    torch.manual_seed(3)
    model = GPT(GPTConfig(block_size=32, vocab_size=vocab_size, n_layer=2, n_head=2, n_embd=32,
                          dropout=0.2, bias=True))
    with torch.no_grad():  # biases away from zero, so dropping a real bias would show
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.normal_(0, 0.1)
    return model.eval()


def import_dir(source: Path, runs: Path, *extra: str) -> int:
    return main(["import-nanogpt", str(source), "--runs-dir", str(runs), *extra])


def test_an_imported_checkpoint_gives_the_logits_of_its_source(tmp_path: Path, capsys):
    model = source_model()
    write_nanogpt_out_dir(tmp_path / "out-shakespeare-char", model, len(CHARS))
    assert import_dir(tmp_path / "out-shakespeare-char", tmp_path / "runs", "--name", "nano") == 0
    run_id = capsys.readouterr().out.strip()

    run = RunStore(tmp_path / "runs").get("nano")
    assert run.id == run_id
    loaded = load_for_sampling(run.path, "best")
    assert loaded.vocab.chars == CHARS and loaded.step == 250
    idx = torch.tensor([[CHARS.index(c) for c in "ROMEO:\nWhat, ho! "]])
    with torch.inference_mode():
        expected, _ = model(idx, idx)
        got, _ = loaded.model(idx, idx)
    assert torch.allclose(got, expected, atol=1e-6)

    cfg = run.read_config()
    assert (cfg.n_layer, cfg.n_embd, cfg.block_size, cfg.bias) == (2, 32, 32, True)
    assert cfg.max_iters == 5000 and cfg.dtype == "bfloat16" and cfg.device == "auto"


def test_an_imported_run_lists_as_imported_and_samples(tmp_path: Path, capsys):
    write_nanogpt_out_dir(tmp_path / "out", source_model(), len(CHARS))
    runs = tmp_path / "runs"
    assert import_dir(tmp_path / "out", runs) == 0
    capsys.readouterr()
    assert main(["runs", "--json", "--runs-dir", str(runs)]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["name"], row["state"], row["preset"]) == ("out", "imported", "nanogpt")
    assert row["step"] == 250 and row["best_val"] == pytest.approx(2.0625)
    assert main(["sample", "out", "--runs-dir", str(runs), "--prompt", "JULIET:",
                 "--chars", "40", "--seed", "1"]) == 0
    assert capsys.readouterr().out.startswith("JULIET:")


def test_meta_pkl_is_found_where_nanogpts_sample_py_looks(tmp_path: Path):
    repo = tmp_path / "nanoGPT"
    write_nanogpt_out_dir(repo / "out-shakespeare-char", source_model(), len(CHARS))
    data = repo / "data" / "shakespeare_char"
    data.mkdir(parents=True)
    (repo / "out-shakespeare-char" / "meta.pkl").rename(data / "meta.pkl")
    assert import_dir(repo / "out-shakespeare-char", tmp_path / "runs") == 0


def test_bpe_checkpoints_are_refused_for_now(tmp_path: Path, capsys):
    torch.manual_seed(0)
    gpt2_vocab = GPT(GPTConfig(block_size=8, vocab_size=50304, n_layer=1, n_head=1, n_embd=8))
    write_nanogpt_out_dir(tmp_path / "out", gpt2_vocab, 50304, meta=False)
    assert import_dir(tmp_path / "out", tmp_path / "runs") == 2
    assert "BPE (GPT-2 tokenizer) checkpoints are not supported yet" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


class Exploit:
    def __reduce__(self):
        return (print, ("meta.pkl ran code",))


def test_a_meta_pkl_with_code_is_refused_not_run(tmp_path: Path, capsys):
    write_nanogpt_out_dir(tmp_path / "out", source_model(), len(CHARS))
    with (tmp_path / "out" / "meta.pkl").open("wb") as f:
        pickle.dump({"vocab_size": len(CHARS), "itos": Exploit()}, f)
    assert import_dir(tmp_path / "out", tmp_path / "runs") == 2
    captured = capsys.readouterr()
    assert "ran code" not in captured.out and "not a char-level nanoGPT meta.pkl" in captured.err


def test_a_directory_without_ckpt_pt_is_a_user_error(tmp_path: Path, capsys):
    assert import_dir(tmp_path, tmp_path / "runs") == 2
    assert "there is no ckpt.pt" in capsys.readouterr().err
