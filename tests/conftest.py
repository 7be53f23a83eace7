"""Shared fixtures: the corpus, and real runs made by tiny real training."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from engine.corpus import DATA_ENV

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "n_layer=2", "n_head=2", "n_embd=32", "block_size=32", "batch_size=8", "optimizer=muon",
    "muon_lr=0.05", "learning_rate=2e-2", "min_lr=1e-3", "warmup_iters=10",
    "eval_train_windows=64", "threads=1",
]


def _find_tiny_shakespeare() -> Path | None:
    candidates = [os.environ.get(DATA_ENV), REPO.parent / "shared/data/tinyshakespeare.txt",
                  Path("/work/shared/data/tinyshakespeare.txt")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate).resolve()
    return None


TINY_SHAKESPEARE = _find_tiny_shakespeare()


@pytest.fixture(scope="session")
def tiny_shakespeare() -> Path:
    """The development copy of Tiny Shakespeare (never downloaded by the tests)."""
    if TINY_SHAKESPEARE is None:
        pytest.skip(f"Tiny Shakespeare not found; set {DATA_ENV} to a local copy")
    return TINY_SHAKESPEARE


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Point the default corpus at the local copy and keep caches and runs out of $HOME."""
    if TINY_SHAKESPEARE is not None:
        monkeypatch.setenv(DATA_ENV, str(TINY_SHAKESPEARE))
    monkeypatch.setenv("NANOGPT_TUI_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("NANOGPT_TUI_RUNS", raising=False)


def tiny_config(**changes):
    """A 26k-parameter GPT that trains 100 steps in a couple of seconds (Muon: AdamW alone
    is still on the ~3.0 plateau after 100 steps at this size). One thread: at this size a
    second one costs more than it gives, and under load its spin-waits stall training."""
    from engine import config

    overrides = TINY + [f"{k}={v}" for k, v in changes.items()]
    return config.resolve("baby", None, overrides)


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory: pytest.TempPathFactory, tiny_shakespeare: Path) -> Path:
    """A runs directory with one GPT run trained 100 steps (done) and one bigram run (done)."""
    from engine.runstore import RunStore
    from engine.train import train

    os.environ.setdefault(DATA_ENV, str(tiny_shakespeare))
    store = RunStore(tmp_path_factory.mktemp("trained") / "runs")
    gpt = store.create(tiny_config(max_iters=100, eval_interval=50, log_interval=10),
                       name="tiny-gpt", preset="baby")
    assert train(gpt) == "done"
    bigram = store.create(tiny_config(model="bigram", max_iters=60, eval_interval=30,
                                      block_size=8), name="tiny-bigram", preset="bigram")
    assert train(bigram) == "done"
    return store.root


@pytest.fixture
def runs_copy(trained_runs: Path, tmp_path: Path) -> Path:
    """A private copy of `trained_runs` that a test may change."""
    dest = tmp_path / "runs"
    shutil.copytree(trained_runs, dest)
    return dest
