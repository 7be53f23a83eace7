from pathlib import Path

import pytest
import torch

from engine import corpus
from engine.corpus import check_corpus, read_text
from engine.data import eval_windows, get_batch, load_corpus
from engine.errors import UserError
from engine.vocab import Vocab, describe_chars


def test_vocab_round_trip_and_unknown_chars():
    v = Vocab.from_text("hello world")
    assert v.chars == " dehlorw"
    assert v.decode(v.encode("hello")) == "hello"
    assert v.unknown("help me!") == ["p", "m", "!"]
    assert describe_chars(["é", "\t"]) == "'é', U+0009"


def test_tiny_shakespeare_loads_as_documented(tiny_shakespeare: Path):
    c = load_corpus(str(tiny_shakespeare))
    assert len(c.vocab) == 65
    assert len(c.train) + len(c.val) == 1_115_394
    assert len(c.val) == 111_540
    assert c.sha256 == corpus.TINY_SHAKESPEARE_SHA256


def test_default_corpus_comes_from_the_env_copy(tiny_shakespeare: Path):
    assert load_corpus("").path == tiny_shakespeare


def test_env_copy_must_be_tiny_shakespeare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    other = tmp_path / "other.txt"
    other.write_text("not shakespeare")
    monkeypatch.setenv(corpus.DATA_ENV, str(other))
    with pytest.raises(UserError, match="is not Tiny Shakespeare"):
        load_corpus("")


def test_download_verifies_and_caches(tiny_shakespeare: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(corpus.DATA_ENV)
    monkeypatch.setenv(corpus.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(corpus, "TINY_SHAKESPEARE_URL", tiny_shakespeare.as_uri())
    path = corpus.default_corpus_path()
    assert path == tmp_path / "cache" / "tinyshakespeare.txt"
    assert path.read_bytes() == tiny_shakespeare.read_bytes()
    # Second time: from the cache, no network needed.
    monkeypatch.setattr(corpus, "TINY_SHAKESPEARE_URL", "http://127.0.0.1:9/unreachable")
    assert corpus.default_corpus_path() == path


def test_no_network_and_no_cache_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(corpus.DATA_ENV, raising=False)
    monkeypatch.setenv(corpus.CACHE_ENV, str(tmp_path / "empty-cache"))
    monkeypatch.setattr(corpus, "TINY_SHAKESPEARE_URL", "http://127.0.0.1:9/unreachable")
    with pytest.raises(UserError, match=r"could not download .* pass --data FILE"):
        corpus.default_corpus_path()
    assert not (tmp_path / "empty-cache").exists()


def test_a_wrong_download_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(corpus.DATA_ENV, raising=False)
    fake = tmp_path / "fake.txt"
    fake.write_text("tampered")
    with pytest.raises(UserError, match="not Tiny Shakespeare"):
        corpus.download_tiny_shakespeare(tmp_path / "dest.txt", fake.as_uri())
    assert not (tmp_path / "dest.txt").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        (b"", "is empty"),
        (b"  \n\n ", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "looks binary"),
        (b"caf\xe9 au lait", "is not UTF-8"),
    ],
)
def test_bad_data_files(tmp_path: Path, content: bytes | None, message: str):
    path = tmp_path / "data.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        read_text(path)


def test_a_directory_is_not_a_data_file(tmp_path: Path):
    with pytest.raises(UserError, match="is a directory"):
        read_text(tmp_path)


def test_text_too_short_for_the_block_size(tmp_path: Path):
    path = tmp_path / "short.txt"
    path.write_text("abcdefghij" * 10)  # val split: 10 characters
    with pytest.raises(UserError, match=r"fewer than block_size \+ 1 = 65; lower block_size"):
        check_corpus(str(path), 64)
    assert check_corpus(str(path), 8) == path


def test_batches_are_windows_with_shifted_targets():
    split = torch.arange(1000)
    gen = torch.Generator().manual_seed(0)
    x, y = get_batch(split, 4, 16, gen)
    assert x.shape == y.shape == (4, 16)
    assert torch.equal(y, x + 1)


def test_eval_windows_tile_the_split_or_spread_evenly():
    split = torch.arange(101)
    w = eval_windows(split, 10)
    assert w.shape == (10, 11)
    assert torch.equal(w[:, :-1].flatten(), torch.arange(100))
    spread = eval_windows(split, 10, limit=3)
    assert spread[:, 0].tolist() == [0, 40, 90]
