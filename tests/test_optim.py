import math

import pytest
import torch

from engine.config import resolve
from engine.model import GPT, GPTConfig
from engine.optim import Muon, configure_optimizers, lr_at, set_lr


def test_schedule_warms_up_then_decays_to_min_lr():
    cfg = resolve("baby")
    assert lr_at(0, cfg) == pytest.approx(1e-3 / 101)
    assert lr_at(99, cfg) == pytest.approx(1e-3 * 100 / 101)
    assert lr_at(100, cfg) == pytest.approx(1e-3)
    assert lr_at(1050, cfg) == pytest.approx(1e-4 + 0.5 * (1e-3 - 1e-4))
    assert lr_at(2000, cfg) == pytest.approx(1e-4)
    assert lr_at(5000, cfg) == pytest.approx(1e-4)
    assert lr_at(1234, cfg.replace(decay_lr=False)) == 1e-3


def test_decay_follows_max_iters_unless_set():
    assert resolve("baby", None, ["max_iters=500"]).decay_iters == 500
    assert resolve("baby", None, ["max_iters=500", "lr_decay_iters=400"]).decay_iters == 400


def _tiny_gpt() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(n_layer=2, n_head=2, n_embd=16, block_size=8, vocab_size=10))


def test_adamw_decays_only_matrices():
    model = _tiny_gpt()
    (adamw,) = configure_optimizers(model, resolve("baby"), "cpu")
    decay, no_decay = adamw.param_groups
    assert all(p.ndim == 2 for p in decay["params"]) and decay["weight_decay"] == 0.1
    assert all(p.ndim == 1 for p in no_decay["params"]) and no_decay["weight_decay"] == 0.0
    n = sum(p.numel() for g in adamw.param_groups for p in g["params"])
    assert n == model.num_params(non_embedding=False)


def test_muon_takes_the_block_matrices_and_adamw_the_rest():
    model = _tiny_gpt()
    adamw, muon = configure_optimizers(model, resolve("baby-muon"), "cpu")
    muon_params = {id(p) for p in muon.param_groups[0]["params"]}
    names = {n for n, p in model.named_parameters() if id(p) in muon_params}
    assert names and all(".h." in n and n.endswith("weight") for n in names)
    assert "transformer.wte.weight" not in names
    total = sum(p.numel() for o in (adamw, muon) for g in o.param_groups for p in g["params"])
    assert total == model.num_params(non_embedding=False)
    set_lr([adamw, muon], 10_000, resolve("baby-muon"))
    assert muon.param_groups[0]["lr"] == pytest.approx(0.002)  # decayed to a tenth, like AdamW


def test_batched_muon_matches_torch_muon():
    torch.manual_seed(0)
    shapes = [(48, 16), (48, 16), (16, 48), (16, 16)]
    ours = [torch.nn.Parameter(torch.randn(s)) for s in shapes]
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    opt_ours = Muon(ours, lr=0.02, weight_decay=0.1)
    opt_theirs = torch.optim.Muon(theirs, lr=0.02, weight_decay=0.1)
    for _ in range(3):
        grads = [torch.randn(s) for s in shapes]
        for p, q, g in zip(ours, theirs, grads, strict=True):
            p.grad, q.grad = g.clone(), g.clone()
        opt_ours.step()
        opt_theirs.step()
    for p, q in zip(ours, theirs, strict=True):
        assert torch.allclose(p, q, atol=1e-6), (p - q).abs().max()


def test_muon_refuses_vectors():
    with pytest.raises(ValueError, match="2-D"):
        Muon([torch.nn.Parameter(torch.zeros(3))])


def test_cosine_midpoint():
    cfg = resolve("baby", None, ["warmup_iters=0", "max_iters=100"])
    assert lr_at(50, cfg) == pytest.approx(1e-4 + 0.5 * (1 + math.cos(math.pi / 2)) * 9e-4)
