import pytest
import torch

from engine.model import GPT, BigramLanguageModel, GPTConfig, build_model, model_args

SHAKESPEARE_CHAR = GPTConfig(block_size=256, vocab_size=65, n_layer=6, n_head=6, n_embd=384)


def test_parameter_names_and_count_match_nanogpt():
    model = GPT(SHAKESPEARE_CHAR)
    names = set(model.state_dict())
    for name in ("transformer.wte.weight", "transformer.wpe.weight", "transformer.ln_f.weight",
                 "transformer.h.0.ln_1.weight", "transformer.h.0.attn.c_attn.weight",
                 "transformer.h.0.attn.c_proj.weight", "transformer.h.0.ln_2.weight",
                 "transformer.h.5.mlp.c_fc.weight", "transformer.h.5.mlp.c_proj.weight",
                 "lm_head.weight"):
        assert name in names
    assert not any(n.endswith(".bias") for n in names)  # bias=False, as nanoGPT's default
    assert model.num_params() == 10_646_784  # what nanoGPT prints: 10.65M
    assert model.lm_head.weight is model.transformer.wte.weight


def test_bias_option_adds_nanogpt_bias_names():
    model = GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=8, bias=True))
    names = set(model.state_dict())
    assert {"transformer.h.0.attn.c_attn.bias", "transformer.h.0.ln_1.bias",
            "transformer.ln_f.bias"} <= names


def test_rope_drops_wpe_and_keeps_the_rest():
    model = GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=8, pos_emb="rope"))
    names = set(model.state_dict())
    assert "transformer.wpe.weight" not in names
    assert "transformer.h.0.attn.c_attn.weight" in names


@pytest.mark.parametrize("pos_emb", ["learned", "rope"])
def test_forward_is_causal(pos_emb: str):
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=2, n_head=2, n_embd=16, block_size=16, vocab_size=10,
                          pos_emb=pos_emb)).eval()
    x = torch.randint(10, (1, 12))
    y = x.clone()
    y[0, 8:] = (y[0, 8:] + 1) % 10  # change only the future
    logits_x, _ = model(x, x)
    logits_y, _ = model(y, y)
    assert torch.allclose(logits_x[0, :8], logits_y[0, :8], atol=1e-6)
    assert not torch.allclose(logits_x[0, 8:], logits_y[0, 8:])


def test_loss_at_init_is_near_uniform():
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=2, n_head=2, n_embd=32, block_size=16, vocab_size=65))
    x, y = torch.randint(65, (2, 4, 16))
    _, loss = model(x, y)
    assert abs(loss.item() - torch.log(torch.tensor(65.0)).item()) < 0.1


def test_without_targets_only_the_last_position_is_computed():
    model = GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=8, vocab_size=10)).eval()
    x = torch.randint(10, (2, 5))
    last, loss = model(x)
    full, _ = model(x, x)
    assert loss is None and last.shape == (2, 1, 10)
    assert torch.allclose(last[:, 0], full[:, -1], atol=1e-6)


def test_bigram_is_a_lookup_table():
    model = BigramLanguageModel(GPTConfig(vocab_size=5, block_size=8))
    x = torch.tensor([[0, 1, 2]])
    logits, _ = model(x, x)
    assert torch.equal(logits[0, 2], model.token_embedding_table.weight[2])
    assert model.num_params() == 25


def test_model_args_rebuild_the_same_model():
    config = GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=8, vocab_size=10)
    assert isinstance(build_model(model_args("gpt", config)), GPT)
    assert isinstance(build_model(model_args("bigram", config)), BigramLanguageModel)
    # nanoGPT's model_args have no "model" or "pos_emb" key: a GPT with learned positions.
    nanogpt_args = dict(n_layer=1, n_head=2, n_embd=16, block_size=8, bias=False,
                        vocab_size=10, dropout=0.0)
    model = build_model(nanogpt_args)
    assert isinstance(model, GPT) and model.config.pos_emb == "learned"
