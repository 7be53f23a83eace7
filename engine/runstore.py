"""The run store: one directory per run, and the state of a run derived from its files.

Everything a viewer knows about a run comes from here; nothing is shared in memory with the
training process. No torch here: the TUI lists and watches runs through this module.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from engine import config as config_mod
from engine.config import TrainConfig
from engine.errors import UserError
from engine.fsutil import atomic_write_bytes
from engine.metrics import METRICS_FILE

RUNS_ENV = "NANOGPT_TUI_RUNS"
CONFIG_FILE = "config.toml"
STATUS_FILE = "status.json"
LAST_CKPT = "last.pt"
BEST_CKPT = "best.pt"
WORKER_LOG = "worker.log"
SAMPLES_DIR = "samples"

# A worker on another host is presumed dead when its heartbeat is older than this.
STALE_AFTER_S = 90.0
LIVE_STATES = ("starting", "running", "stopping")
# States `resume` continues from last.pt (or starts, if there is none yet). A failed run can be
# resumed once its cause is fixed (a full disk freed, a smaller batch set).
RESUMABLE_STATES = ("created", "stopped", "interrupted", "failed")


def default_runs_dir() -> Path:
    return Path(os.environ.get(RUNS_ENV) or "runs")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:40] or "run"


def process_started(pid: int) -> float | None:
    """When process `pid` started, or None if it is gone (a zombie counts as gone)."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def pid_alive(pid: int, started: float | None = None) -> bool:
    """Is this the same live process? A reused pid has another start time."""
    created = process_started(pid)
    if created is None:
        return False
    return started is None or abs(created - started) < 1.0


@dataclass
class RunState:
    """The state a viewer shows, derived from status.json and the process table."""

    state: str
    reason: str = ""


class RunDir:
    """The files of one run."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def status_path(self) -> Path:
        return self.path / STATUS_FILE

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def log_path(self) -> Path:
        return self.path / WORKER_LOG

    @property
    def samples_dir(self) -> Path:
        return self.path / SAMPLES_DIR

    def checkpoint_path(self, which: str = "last") -> Path:
        return self.path / (BEST_CKPT if which == "best" else LAST_CKPT)

    def read_config(self) -> TrainConfig:
        try:
            values = config_mod.load_toml(self.config_path)
        except UserError as exc:
            raise UserError(f"run {self.id}: {exc}") from None
        try:
            return config_mod.from_dict(values).validate()
        except (UserError, TypeError) as exc:
            raise UserError(f"run {self.id}: {CONFIG_FILE} is invalid ({exc}).") from None

    def read_meta(self) -> dict[str, Any]:
        """The `[run]` table of config.toml: name, preset, created."""
        try:
            raw = config_mod.tomllib.loads(self.config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        meta = raw.get(config_mod.RUN_TABLE, {})
        return meta if isinstance(meta, dict) else {}

    def read_status(self) -> dict[str, Any]:
        """status.json, or {} if there is none yet. Raises UserError if it is unreadable."""
        try:
            status = json.loads(self.status_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            raise UserError(f"run {self.id}: {STATUS_FILE} is not valid JSON.") from None
        if not isinstance(status, dict):
            raise UserError(f"run {self.id}: {STATUS_FILE} is not a JSON object.")
        return status

    def write_status(self, status: dict[str, Any]) -> None:
        atomic_write_bytes(self.status_path, json.dumps(status, indent=1).encode())

    def update_status(self, **changes: Any) -> dict[str, Any]:
        try:
            status = self.read_status()
        except UserError:
            status = {}
        status.update(changes, updated=time.time())
        self.write_status(status)
        return status

    def state(self, now: float | None = None) -> RunState:
        try:
            status = self.read_status()
        except UserError as exc:
            return RunState("error", str(exc))
        if not status:
            if not self.config_path.exists():
                return RunState("error", "not a run: no config.toml or status.json")
            return RunState("created")
        state = str(status.get("state", "error"))
        if state in LIVE_STATES and not self._alive(status, now or time.time()):
            return RunState("interrupted", "the worker died; resume continues from last.pt")
        return RunState(state, str(status.get("error") or ""))

    @staticmethod
    def _alive(status: dict[str, Any], now: float) -> bool:
        pid = status.get("pid")
        if status.get("host") == socket.gethostname() and isinstance(pid, int):
            return pid_alive(pid, status.get("pid_started"))
        heartbeat = status.get("heartbeat")
        return isinstance(heartbeat, (int, float)) and now - heartbeat < STALE_AFTER_S


@dataclass
class RunSummary:
    """One row of the run history."""

    id: str
    name: str
    preset: str
    state: str
    reason: str
    step: int
    max_iters: int
    best_val: float | None
    tokens_per_s: float | None
    params: int | None
    created: float
    path: Path


def summarize(run: RunDir) -> RunSummary:
    state = run.state()
    try:
        status = run.read_status()
    except UserError:
        status = {}
    meta = run.read_meta()
    max_iters = status.get("max_iters")
    if state.state != "error":
        try:
            configured = run.read_config().max_iters  # also proves config.toml is sound
            max_iters = max_iters or configured
        except UserError as exc:
            state = RunState("error", str(exc))
    created = meta.get("created") or status.get("started")
    if not isinstance(created, (int, float)):
        try:
            created = run.path.stat().st_mtime
        except OSError:
            created = 0.0
    return RunSummary(
        id=run.id,
        name=str(meta.get("name") or run.id),
        preset=str(meta.get("preset") or ""),
        state=state.state,
        reason=state.reason,
        step=int(status.get("step") or 0),
        max_iters=int(max_iters or 0),
        best_val=status.get("best_val"),
        tokens_per_s=status.get("tokens_per_s"),
        params=status.get("params"),
        created=float(created),
        path=run.path,
    )


class RunStore:
    """The runs directory: create, list (newest first), find and delete runs."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_runs_dir()

    def create(self, cfg: TrainConfig, name: str = "", preset: str = "") -> RunDir:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the runs directory {self.root} ({exc.strerror}); "
                            "pass --runs-dir with a writable directory.") from None
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise UserError(f"the runs directory {self.root} is not writable; "
                            "pass --runs-dir with a writable directory.")
        now = time.time()
        stem = f"{datetime.fromtimestamp(now):%Y%m%d-%H%M%S}-{_slug(name or preset or 'run')}"
        for n in range(1, 1000):
            path = self.root / (stem if n == 1 else f"{stem}-{n}")
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
            except OSError as exc:
                raise UserError(f"cannot create a run in {self.root} ({exc.strerror}); "
                                "pass --runs-dir with a writable directory.") from None
        else:
            raise UserError(f"cannot find a free run name in {self.root}.")
        run = RunDir(path)
        meta = {"name": name or preset or run.id, "preset": preset, "created": now}
        atomic_write_bytes(run.config_path, config_mod.to_toml(cfg, meta).encode())
        return run

    def runs(self) -> list[RunDir]:
        if not self.root.is_dir():
            return []
        dirs = [p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        return [RunDir(p) for p in sorted(dirs, key=lambda p: p.name, reverse=True)]

    def summaries(self) -> list[RunSummary]:
        rows = [summarize(run) for run in self.runs()]
        return sorted(rows, key=lambda r: r.created, reverse=True)

    def get(self, ref: str) -> RunDir:
        """A run by id, unique id prefix, name, or path."""
        as_path = Path(ref)
        if as_path.is_dir() and (as_path / CONFIG_FILE).exists():
            return RunDir(as_path)
        runs = self.runs()
        for matches in (
            [r for r in runs if r.id == ref],
            [r for r in runs if r.id.startswith(ref)],
            [r for r in runs if r.read_meta().get("name") == ref],
        ):
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                ids = ", ".join(r.id for r in matches[:5])
                raise UserError(f"{ref!r} matches several runs ({ids}); give more of the id.")
        raise UserError(f"no run {ref!r} in {self.root}; `nanogpt-tui runs` lists them.")

    def delete(self, run: RunDir) -> None:
        if run.state().state in LIVE_STATES:
            raise UserError(f"run {run.id} is still training; stop it before deleting it.")
        shutil.rmtree(run.path)
