"""Checkpoints: written atomically, loaded safely (weights_only), explained when damaged."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from engine.errors import UserError
from engine.fsutil import atomic_write
from engine.model import Model, build_model
from engine.vocab import Vocab

FORMAT = "nanogpt-tui/1"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    # Serialized in memory first: torch's zip writer turns a failed disk write (disk full) into
    # an opaque RuntimeError, while a plain write raises the OSError that says what happened.
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    atomic_write(path, lambda f: f.write(buffer.getbuffer()))


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    if not path.exists():
        raise UserError(f"there is no checkpoint {path}; the run has not reached its first eval.")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, pickle.UnpicklingError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"checkpoint {path} is damaged or incomplete ({first_line}); "
            "use the run's other checkpoint or start a new run."
        ) from None


def model_from_checkpoint(ckpt: dict[str, Any], device: str | torch.device = "cpu") -> Model:
    model = build_model(ckpt["model_args"])
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval()


def vocab_of(ckpt: dict[str, Any]) -> Vocab:
    return Vocab(ckpt["vocab"])
