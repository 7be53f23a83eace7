"""Streaming generation: the KV cache against full forwards, determinism, prompts and loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.errors import UserError
from engine.model import GPT, GPTConfig
from engine.runstore import RunStore
from engine.sample import (
    Decoder,
    LoadedRun,
    load_for_sampling,
    pick,
    sampling_threads,
    stream_tokens,
)
from engine.vocab import Vocab

VOCAB = Vocab("\n !',.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def small_gpt(pos_emb: str = "learned", block_size: int = 64) -> GPT:
    torch.manual_seed(0)
    config = GPTConfig(block_size=block_size, vocab_size=len(VOCAB), n_layer=2, n_head=2,
                       n_embd=32, pos_emb=pos_emb)
    return GPT(config).eval()


def full_forward(model: GPT, ids: list[int]) -> torch.Tensor:
    with torch.inference_mode():
        logits, _ = model(torch.tensor([ids]))
    return logits[0, -1]


@pytest.fixture(autouse=True)
def _one_thread():
    """Sample on one CPU thread as the sampler does (two threads crawl beside other work)."""
    with sampling_threads():
        yield


@pytest.fixture(scope="module")
def tiny_gpt(trained_runs: Path) -> LoadedRun:
    return load_for_sampling(RunStore(trained_runs).get("tiny-gpt").path)


@pytest.mark.parametrize("pos_emb", ["learned", "rope"])
def test_cached_logits_match_a_full_forward_over_the_same_context(pos_emb: str):
    model = small_gpt(pos_emb)
    decoder = Decoder(model)
    generator = torch.Generator().manual_seed(1)
    logits = decoder.start(VOCAB.encode("ROMEO:\n"))
    resets, previous_length = 0, len(decoder.context)
    for _ in range(300):
        expected = full_forward(model, decoder.context)
        assert torch.allclose(logits, expected, atol=1e-4), len(decoder.context)
        assert len(decoder.context) <= model.config.block_size
        assert resets == 0 or len(decoder.context) > decoder.keep
        logits = decoder.push(pick(logits, 1.0, None, generator))
        resets += len(decoder.context) < previous_length
        previous_length = len(decoder.context)
    assert resets >= 8  # (300 + 7) chars cross a 64 window with keep 32 every 32 chars


def test_the_window_costs_about_two_positions_per_character_by_default():
    model = small_gpt()
    decoder = Decoder(model)
    decoder.start([0])
    for _ in range(640):
        decoder.push(1)
    # block / (block - keep) = 2 per character once the window is full
    assert 1.9 < decoder.positions_run / 641 < 2.0


def test_keep_window_minus_one_is_nanogpts_sliding_context():
    model = small_gpt(block_size=16)
    prompt = VOCAB.encode("\n")
    cached = "".join(stream_tokens(model, VOCAB, "", 60, temperature=0, seed=0, keep=15))
    ids = list(prompt)
    for _ in range(60):  # nanoGPT's generate(): crop to the window, run it all, take the argmax
        ids.append(int(torch.argmax(full_forward(model, ids[-16:]))))
    assert cached == VOCAB.decode(ids[1:])


def test_same_seed_same_text_and_another_seed_other_text(tiny_gpt: LoadedRun):
    def sample(seed: int) -> str:
        return "".join(stream_tokens(tiny_gpt.model, tiny_gpt.vocab, "ROMEO:", 200,
                                     temperature=0.8, seed=seed))

    assert sample(7) == sample(7)
    assert sample(7) != sample(8)
    assert len(sample(7)) == 200


def test_temperature_zero_is_greedy_and_top_k_one_is_too(tiny_gpt: LoadedRun):
    def sample(temperature: float, top_k: int | None, seed: int) -> str:
        return "".join(stream_tokens(tiny_gpt.model, tiny_gpt.vocab, "First", 80,
                                     temperature=temperature, top_k=top_k, seed=seed))

    greedy = sample(0, None, 1)
    assert greedy == sample(0, None, 2)
    assert sample(1.0, 1, 3) == greedy


def test_top_k_draws_only_from_the_k_likeliest():
    logits = torch.tensor([0.0, 5.0, 4.0, 1.0, 3.0])
    generator = torch.Generator().manual_seed(0)
    drawn = {pick(logits, 100.0, 2, generator) for _ in range(200)}
    assert drawn == {1, 2}
    assert len({pick(logits, 100.0, 0, generator) for _ in range(200)}) == 5  # 0 = off


def test_an_empty_prompt_starts_from_a_newline(tiny_gpt: LoadedRun):
    def sample(prompt: str) -> str:
        return "".join(stream_tokens(tiny_gpt.model, tiny_gpt.vocab, prompt, 50, seed=5))

    assert sample("") == sample("\n")


def test_a_prompt_longer_than_the_window_continues_its_last_window(tiny_gpt: LoadedRun):
    block = tiny_gpt.model.config.block_size
    long_prompt = "To be, or not to be, that is the question: " * 3
    assert len(long_prompt) > block

    def sample(prompt: str) -> str:
        return "".join(stream_tokens(tiny_gpt.model, tiny_gpt.vocab, prompt, 60,
                                     temperature=0, seed=0))

    assert sample(long_prompt) == sample(long_prompt[-block:])


def test_unknown_prompt_characters_are_named_in_one_line(tiny_gpt: LoadedRun):
    with pytest.raises(UserError) as err:
        stream_tokens(tiny_gpt.model, tiny_gpt.vocab, "café\tau lait é", 10, seed=0)
    message = str(err.value)
    assert "'é', U+0009" in message and "\n" not in message


@pytest.mark.parametrize("settings", [dict(chars=-1), dict(temperature=-0.5),
                                      dict(top_k=-2), dict(keep=64), dict(seed=-1),
                                      dict(seed=2**64)])
def test_bad_settings_are_user_errors(settings: dict):
    model = small_gpt()
    args = dict(chars=10, temperature=0.8, top_k=None, keep=None, seed=0) | settings
    with pytest.raises(UserError):
        stream_tokens(model, VOCAB, "A", args.pop("chars"), **args)


def test_zero_chars_yield_nothing(tiny_gpt: LoadedRun):
    assert list(stream_tokens(tiny_gpt.model, tiny_gpt.vocab, "A", 0, seed=0)) == []


def test_sampling_needs_no_corpus(trained_runs: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NANOGPT_TUI_DATA", "/nonexistent/corpus.txt")
    loaded = load_for_sampling(RunStore(trained_runs).get("tiny-gpt").path, "last")
    assert loaded.checkpoint == "last" and loaded.step == 100
    assert len("".join(stream_tokens(loaded.model, loaded.vocab, "", 20, seed=0))) == 20


def test_the_bigram_model_samples_through_the_same_window(trained_runs: Path):
    loaded = load_for_sampling(RunStore(trained_runs).get("tiny-bigram").path)
    text = "".join(stream_tokens(loaded.model, loaded.vocab, "KING", 100, seed=0))
    assert len(text) == 100


def test_without_best_the_default_is_last_and_asking_for_best_says_what_to_do(runs_copy: Path):
    run = RunStore(runs_copy).get("tiny-gpt")
    run.checkpoint_path("best").unlink()
    assert load_for_sampling(run.path).checkpoint == "last"
    with pytest.raises(UserError, match=r"no best\.pt yet; use the last checkpoint"):
        load_for_sampling(run.path, "best")


def test_a_damaged_checkpoint_is_a_user_error(runs_copy: Path):
    run = RunStore(runs_copy).get("tiny-gpt")
    run.checkpoint_path("best").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="damaged"):
        load_for_sampling(run.path, "best")
    with pytest.raises(UserError, match="no run directory"):
        load_for_sampling(runs_copy / "nope")
