"""Saved samples: named by step, seed and time; the header reproduces the sample."""

from __future__ import annotations

from pathlib import Path

from engine.runstore import SAMPLES_DIR
from engine.samples import read_sample, save_sample

META = {"checkpoint": "best", "step": 250, "prompt": "ROMEO:\n", "chars": 12,
        "temperature": 0.8, "top_k": None, "seed": 1337}


def test_a_sample_is_saved_with_the_settings_that_reproduce_it(tmp_path: Path):
    text = "ROMEO:\nO, she doth\r\n\nteach"
    path = save_sample(tmp_path, text, {**META, "run": "tiny-gpt"})
    assert path.parent == tmp_path / SAMPLES_DIR
    assert path.name.startswith("250-1337-") and path.suffix == ".txt"
    header = path.read_text(encoding="utf-8").split("\n\n")[0]
    assert header.splitlines()[:3] == ['# checkpoint: "best"', "# step: 250",
                                       '# prompt: "ROMEO:\\n"']
    meta, saved = read_sample(path)
    assert saved == text
    assert meta == {**META, "run": "tiny-gpt"}


def test_two_samples_in_the_same_second_get_two_files(tmp_path: Path):
    first = save_sample(tmp_path, "a", META)
    second = save_sample(tmp_path, "b", META)
    assert first != second
    assert read_sample(first)[1] == "a" and read_sample(second)[1] == "b"
