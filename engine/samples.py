"""Saved samples: text files in a run's `samples/` directory, each with the settings that made it.

A file is a header of `# key: JSON value` lines, one blank line, then the text exactly as
generated (prompt included). The header holds what reproduces the sample: checkpoint, step,
prompt, temperature, top-k and seed. No torch here: the TUI saves and lists samples itself.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.runstore import SAMPLES_DIR

HEADER_KEYS = ("checkpoint", "step", "prompt", "chars", "temperature", "top_k", "seed")


def save_sample(run_dir: Path, text: str, meta: dict[str, Any]) -> Path:
    """Write `samples/<step>-<seed>-<timestamp>.txt` in the run; return its path.

    `meta` needs at least step and seed (they name the file); the keys of HEADER_KEYS come first
    in the header, any others follow.
    """
    directory = Path(run_dir) / SAMPLES_DIR
    directory.mkdir(exist_ok=True)
    stem = f"{meta['step']}-{meta['seed']}-{datetime.now():%Y%m%d-%H%M%S}"
    ordered = [k for k in HEADER_KEYS if k in meta] + [k for k in meta if k not in HEADER_KEYS]
    header = "".join(f"# {key}: {json.dumps(meta[key])}\n" for key in ordered)
    for n in range(1, 1000):
        path = directory / (f"{stem}.txt" if n == 1 else f"{stem}-{n}.txt")
        try:
            # newline="" keeps the text's own line ends: the file holds exactly what was generated
            with path.open("x", encoding="utf-8", newline="") as f:
                f.write(f"{header}\n{text}")
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free sample name for {stem} in {directory}")


def read_sample(path: Path) -> tuple[dict[str, Any], str]:
    """The header and the text of a saved sample."""
    with Path(path).open(encoding="utf-8", newline="") as f:
        content = f.read()
    header, _, text = content.partition("\n\n")
    meta = {}
    for line in header.splitlines():
        key, _, value = line.removeprefix("# ").partition(": ")
        meta[key] = json.loads(value)
    return meta, text
