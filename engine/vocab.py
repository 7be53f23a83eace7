"""The character vocabulary: pure Python, so the TUI and the sampler can check prompts cheaply."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Vocab:
    """Sorted distinct characters of a corpus; a character's id is its index."""

    chars: str

    @classmethod
    def from_text(cls, text: str) -> Vocab:
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def stoi(self) -> dict[str, int]:
        return {ch: i for i, ch in enumerate(self.chars)}

    def unknown(self, text: str) -> list[str]:
        """Characters of `text` the model has never seen, in order of first appearance."""
        known = set(self.chars)
        return list(dict.fromkeys(ch for ch in text if ch not in known))

    def encode(self, text: str) -> list[int]:
        stoi = self.stoi
        return [stoi[ch] for ch in text]

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[i] for i in ids)


def describe_chars(chars: Iterable[str]) -> str:
    """Characters as a user can read them: printable ones quoted, others by code point."""
    return ", ".join(repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}" for ch in chars)
