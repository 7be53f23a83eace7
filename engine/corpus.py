"""The corpus file: find Tiny Shakespeare (local copy, cache or download), or read any UTF-8 text.

No torch here, so the CLI and the TUI check a data file before they start a worker.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from engine.errors import UserError

TINY_SHAKESPEARE_URL = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
)
TINY_SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
DATA_ENV = "NANOGPT_TUI_DATA"
CACHE_ENV = "NANOGPT_TUI_CACHE"
TRAIN_FRACTION = 0.9


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nanogpt-tui"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def default_corpus_path() -> Path:
    """Tiny Shakespeare: the file NANOGPT_TUI_DATA names, else the cache, else a download."""
    if os.environ.get(DATA_ENV):
        path = Path(os.environ[DATA_ENV])
        if sha256(_read_bytes(path)) != TINY_SHAKESPEARE_SHA256:
            raise UserError(
                f"{DATA_ENV}={path} is not Tiny Shakespeare (SHA-256 differs); "
                "unset it, or pass the file with --data to train on other text."
            )
        return path
    cached = cache_dir() / "tinyshakespeare.txt"
    if cached.is_file() and sha256(cached.read_bytes()) == TINY_SHAKESPEARE_SHA256:
        return cached
    return download_tiny_shakespeare(cached)


def download_tiny_shakespeare(dest: Path, url: str | None = None) -> Path:
    url = url or TINY_SHAKESPEARE_URL
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            data = response.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(
            f"could not download Tiny Shakespeare from {url} ({reason}) and there is no cached "
            f"copy at {dest}; connect to the network, set {DATA_ENV} to a local copy, "
            "or pass --data FILE."
        ) from None
    if sha256(data) != TINY_SHAKESPEARE_SHA256:
        raise UserError(
            f"the file downloaded from {url} is not Tiny Shakespeare (SHA-256 differs); "
            f"set {DATA_ENV} to a good local copy or pass --data FILE."
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, dest)
    return dest


def _read_bytes(path: Path) -> bytes:
    if path.is_dir():
        raise UserError(f"data path {path} is a directory; pass a UTF-8 text file.")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"data file {path} does not exist; check the path.") from None
    except PermissionError:
        raise UserError(f"data file {path} is not readable; check its permissions.") from None


def read_text(path: Path) -> str:
    data = _read_bytes(path)
    if b"\x00" in data:
        raise UserError(f"data file {path} looks binary (it holds NUL bytes); pass a text file.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"data file {path} is not UTF-8 (bad byte at offset {exc.start}); "
            "convert it, e.g. with iconv -t UTF-8."
        ) from None
    if not text.strip():
        raise UserError(f"data file {path} is empty; pass a file with some text in it.")
    return text


def corpus_path(data: str) -> Path:
    """The file a config's `data` key names; empty means Tiny Shakespeare."""
    return Path(data).expanduser() if data else default_corpus_path()


def check_corpus(data: str, block_size: int) -> Path:
    """Fail now, with the reason, if training on `data` could not start; return its path."""
    path = corpus_path(data)
    n = len(read_text(path))
    check_split_lengths(path, n - int(TRAIN_FRACTION * n), block_size)
    return path


def check_split_lengths(path: Path, shortest: int, block_size: int) -> None:
    if shortest < block_size + 1:
        raise UserError(
            f"the val split of {path} has {shortest} characters, fewer than block_size + 1 = "
            f"{block_size + 1}; lower block_size or use a longer text."
        )
