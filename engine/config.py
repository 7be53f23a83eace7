"""The training config: the one place a hyperparameter is defined.

The CLI (`--set key=value`, `--config FILE.toml`), the TUI's new-run form and each run's
`config.toml` all go through `TrainConfig`. Keys keep nanoGPT's names. No torch here: the TUI
validates a form with this module without loading torch.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from engine.errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _opt(default: Any, help: str, *, choices: tuple[str, ...] = (), group: str) -> Any:
    return field(default=default, metadata={"help": help, "choices": choices, "group": group})


@dataclass
class TrainConfig:
    """Every knob of a run. The defaults are nanoGPT's CPU "baby" recipe."""

    # model
    model: str = _opt("gpt", "architecture", choices=("gpt", "bigram"), group="model")
    n_layer: int = _opt(4, "transformer blocks", group="model")
    n_head: int = _opt(4, "attention heads per block", group="model")
    n_embd: int = _opt(128, "embedding width", group="model")
    block_size: int = _opt(64, "context length in characters", group="model")
    dropout: float = _opt(0.0, "dropout probability", group="model")
    bias: bool = _opt(False, "biases in Linear and LayerNorm layers", group="model")
    pos_emb: str = _opt(
        "learned", "position encoding", choices=("learned", "rope"), group="model"
    )
    # data
    data: str = _opt("", "UTF-8 text file; empty means Tiny Shakespeare", group="data")
    batch_size: int = _opt(12, "sequences per micro-batch", group="data")
    gradient_accumulation_steps: int = _opt(1, "micro-batches per step and process", group="data")
    # optimisation
    optimizer: str = _opt(
        "adamw", "adamw, or muon for hidden matrices", choices=("adamw", "muon"), group="optim"
    )
    learning_rate: float = _opt(1e-3, "peak AdamW learning rate", group="optim")
    min_lr: float = _opt(1e-4, "learning rate at the end of the cosine decay", group="optim")
    warmup_iters: int = _opt(100, "linear warmup steps", group="optim")
    lr_decay_iters: int = _opt(0, "cosine decay length; 0 means max_iters", group="optim")
    decay_lr: bool = _opt(True, "warmup then cosine decay; off: constant lr", group="optim")
    max_iters: int = _opt(2000, "optimizer steps", group="optim")
    weight_decay: float = _opt(0.1, "decoupled weight decay of 2-D weights", group="optim")
    beta1: float = _opt(0.9, "AdamW beta1", group="optim")
    beta2: float = _opt(0.99, "AdamW beta2", group="optim")
    grad_clip: float = _opt(1.0, "clip the gradient norm to this; 0 disables", group="optim")
    muon_lr: float = _opt(0.02, "Muon learning rate (optimizer = muon)", group="optim")
    muon_momentum: float = _opt(0.95, "Muon momentum (optimizer = muon)", group="optim")
    # evaluation and logging
    eval_interval: int = _opt(250, "steps between evaluations and checkpoints", group="eval")
    eval_train_windows: int = _opt(200, "fixed train windows scored at each eval", group="eval")
    log_interval: int = _opt(10, "steps between metric rows", group="eval")
    # system
    device: str = _opt("auto", "auto, cpu, cuda, cuda:N or mps", group="system")
    dtype: str = _opt(
        "auto",
        "auto picks bfloat16 on GPUs that have it",
        choices=("auto", "float32", "bfloat16", "float16"),
        group="system",
    )
    compile: bool = _opt(False, "torch.compile the model", group="system")
    threads: int = _opt(0, "CPU threads for torch; 0 means one per core", group="system")
    seed: int = _opt(1337, "random seed", group="system")

    @property
    def decay_iters(self) -> int:
        return self.lr_decay_iters or self.max_iters

    @property
    def tokens_per_iter(self) -> int:
        """Tokens per optimizer step in one process."""
        return self.gradient_accumulation_steps * self.batch_size * self.block_size

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> TrainConfig:
        return from_dict({**self.to_dict(), **changes})

    def validate(self) -> TrainConfig:
        """Raise UserError on the first value that cannot train; return self otherwise."""
        for f in dataclasses.fields(self):
            choices = f.metadata["choices"]
            value = getattr(self, f.name)
            if choices and value not in choices:
                raise UserError(f"{f.name} must be one of {', '.join(choices)}; got {value!r}.")
        positive = ("n_layer", "n_head", "n_embd", "block_size", "batch_size",
                    "gradient_accumulation_steps", "max_iters", "eval_interval", "log_interval",
                    "learning_rate")
        for name in positive:
            value = getattr(self, name)
            if not value > 0 or (isinstance(value, float) and not math.isfinite(value)):
                raise UserError(f"{name} must be positive; got {value}; set --set {name}=N.")
        for name in ("min_lr", "warmup_iters", "lr_decay_iters", "weight_decay", "grad_clip",
                     "eval_train_windows", "muon_lr", "threads"):
            if getattr(self, name) < 0:
                raise UserError(f"{name} must not be negative; got {getattr(self, name)}.")
        if self.optimizer == "muon" and not self.muon_lr > 0:
            raise UserError(f"muon_lr must be positive with optimizer = muon; got {self.muon_lr}.")
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"dropout must be in [0, 1); got {self.dropout}.")
        for name in ("beta1", "beta2", "muon_momentum"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise UserError(f"{name} must be in [0, 1); got {getattr(self, name)}.")
        if self.min_lr > self.learning_rate:
            raise UserError(
                f"min_lr ({self.min_lr}) is above learning_rate ({self.learning_rate}); lower it."
            )
        if self.model == "gpt" and self.n_embd % self.n_head:
            raise UserError(
                f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}); "
                f"try n_head={_nearest_divisor(self.n_embd, self.n_head)}."
            )
        if self.pos_emb == "rope" and (self.n_embd // self.n_head) % 2:
            raise UserError("rope needs an even head size (n_embd / n_head); change either.")
        return self


def _nearest_divisor(n: int, near: int) -> int:
    return min((d for d in range(1, n + 1) if n % d == 0), key=lambda d: (abs(d - near), d))


FIELDS: dict[str, dataclasses.Field] = {f.name: f for f in dataclasses.fields(TrainConfig)}


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    overrides: dict[str, Any] = field(default_factory=dict)

    def config(self) -> TrainConfig:
        return from_dict(self.overrides)


_SHAKESPEARE_CHAR = dict(
    n_layer=6, n_head=6, n_embd=384, block_size=256, batch_size=64, dropout=0.2,
    learning_rate=1e-3, min_lr=1e-4, warmup_iters=100, max_iters=5000, beta2=0.99,
    eval_interval=250,
)

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "bigram",
            "the lecture's bigram baseline: one lookup table, context 8",
            dict(model="bigram", block_size=8, batch_size=32, learning_rate=1e-2, min_lr=1e-3,
                 warmup_iters=0, decay_lr=False, max_iters=3000, eval_interval=300,
                 weight_decay=0.0),
        ),
        Preset(
            "baby",
            "nanoGPT's CPU recipe: 4x4x128, context 64, 2000 steps (val 1.88)",
            {},
        ),
        Preset(
            "baby-muon",
            "ours for CPUs: the baby shape with Muon, rotary positions and batch 24",
            dict(optimizer="muon", pos_emb="rope", batch_size=24, max_iters=1000),
        ),
        Preset(
            "shakespeare-char",
            "nanoGPT's GPU recipe: 6x6x384, context 256, 5000 steps (val 1.47)",
            _SHAKESPEARE_CHAR,
        ),
        Preset(
            "lecture",
            "the lecture's GPT: shakespeare-char's shape, lr 3e-4, eval every 500 (val ~1.48)",
            {**_SHAKESPEARE_CHAR, "learning_rate": 3e-4, "min_lr": 3e-4, "decay_lr": False,
             "warmup_iters": 0, "eval_interval": 500, "bias": True, "beta2": 0.999,
             "weight_decay": 0.01, "grad_clip": 0.0},
        ),
    )
}
DEFAULT_PRESET = "baby"


def _suggest(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise UserError(
            f"unknown preset {name!r}.{_suggest(name, list(PRESETS))} "
            f"Presets: {', '.join(PRESETS)}."
        )
    return PRESETS[name]


def _check_key(key: str) -> dataclasses.Field:
    if key not in FIELDS:
        raise UserError(f"unknown config key {key!r}.{_suggest(key, list(FIELDS))}")
    return FIELDS[key]


def _typed(key: str, value: Any) -> Any:
    """Check a value from TOML or a form against the field's type (ints pass as floats)."""
    kind = type(_check_key(key).default)
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise UserError(f"config key {key!r} must be {_KIND_NAMES[kind]}; got {value!r}.")
    return value


_KIND_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def parse_value(key: str, text: str) -> Any:
    """Turn the text of `--set key=value` (or a form field) into the field's type."""
    kind = type(_check_key(key).default)
    text = text.strip()
    try:
        if kind is bool:
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind is int:
            number = float(text.replace("_", ""))
            if not number.is_integer():
                raise ValueError
            return int(number)
        if kind is float:
            return float(text.replace("_", ""))
    except ValueError:
        raise UserError(f"config key {key!r} must be {_KIND_NAMES[kind]}; got {text!r}.") from None
    return text


def parse_override(item: str) -> tuple[str, Any]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set takes key=value; got {item!r}.")
    return key.strip(), parse_value(key.strip(), value)


def from_dict(values: dict[str, Any]) -> TrainConfig:
    return TrainConfig(**{key: _typed(key, value) for key, value in values.items()})


RUN_TABLE = "run"


def load_toml(path: Path) -> dict[str, Any]:
    """The config keys of a TOML file, checked by key and type; a run's `[run]` table is skipped."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"config file {path} does not exist; check the path.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"config file {path} is not valid TOML ({exc}); fix it.") from None
    raw.pop(RUN_TABLE, None)
    return {key: _typed(key, value) for key, value in raw.items()}


def resolve(
    preset: str | None = None,
    config_file: Path | None = None,
    overrides: list[str] | None = None,
) -> TrainConfig:
    """Preset, then the TOML file, then each `key=value`, later ones winning; validated."""
    values = dict(get_preset(preset or DEFAULT_PRESET).overrides)
    if config_file is not None:
        values.update(load_toml(config_file))
    for item in overrides or []:
        key, value = parse_override(item)
        values[key] = value
    return from_dict(values).validate()


def to_toml(cfg: TrainConfig, run: dict[str, Any] | None = None) -> str:
    body = cfg.to_dict()
    if run:
        body[RUN_TABLE] = run
    return tomli_w.dumps(body)
