"""Watches the runs directory: run summaries, the picked run's status and its new metric rows.

A poll is a directory listing plus a `stat` of each run's two small files; a run is summarized
again only when one of them changed. A live run's worker may die without writing anything, so
its state alone is checked on every poll.
The picked run's metrics.jsonl is tailed by byte offset. The App calls `poll()` from a thread
worker a few times a second. No Textual import here.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.metrics import MetricsTail
from engine.runstore import LIVE_STATES, RunDir, RunStore, RunSummary, summarize

# (mtime_ns, size) of config.toml and status.json; None where the file is missing.
Signature = tuple[tuple[int, int] | None, tuple[int, int] | None]

FAST_INTERVAL_S = 0.25  # while any run trains
SLOW_INTERVAL_S = 1.0  # otherwise: runs started elsewhere still show up within a second


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


@dataclass(frozen=True)
class MetricsDelta:
    """Metric rows of one run that the viewer has not seen; `reset`: they replace all before."""

    run_id: str
    rows: list[dict[str, Any]]
    reset: bool


@dataclass(frozen=True)
class WatchResult:
    """What changed since the previous poll; None where nothing did."""

    runs: list[RunSummary] | None = None
    status: tuple[str, dict[str, Any]] | None = None  # (run id, the picked run's status.json)
    metrics: MetricsDelta | None = None


class RunWatcher:
    """Polled from one thread; `pick` may be called from another."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self._summaries: dict[str, tuple[Signature, RunSummary]] = {}
        self._last_runs: list[RunSummary] | None = None
        self._lock = threading.Lock()
        self._picked: RunDir | None = None
        self._pick_changed = False
        self._tail: MetricsTail | None = None
        self._sent = 0
        self._last_sent_row: dict[str, Any] | None = None
        self._status_signature: tuple[int, int] | None = None

    @property
    def interval(self) -> float:
        """Seconds until the next poll is worth doing."""
        runs = self._last_runs or []
        return FAST_INTERVAL_S if any(r.state in LIVE_STATES for r in runs) else SLOW_INTERVAL_S

    def pick(self, run_id: str | None) -> None:
        """Follow this run's status and metrics from the next poll on (None: no run)."""
        with self._lock:
            self._picked = RunDir(self.store.root / run_id) if run_id else None
            self._pick_changed = True

    def poll(self) -> WatchResult:
        runs = self._scan()
        status, metrics = self._poll_picked()
        return WatchResult(runs=runs, status=status, metrics=metrics)

    # --- the run list --------------------------------------------------------------------------

    def _scan(self) -> list[RunSummary] | None:
        rows = [self._summary(run) for run in self.store.runs()]
        rows.sort(key=lambda r: r.created, reverse=True)
        seen = {r.id for r in rows}
        for gone in set(self._summaries) - seen:
            del self._summaries[gone]
        if rows == self._last_runs:
            return None
        self._last_runs = rows
        return rows

    def _summary(self, run: RunDir) -> RunSummary:
        signature = (_stat(run.config_path), _stat(run.status_path))
        cached = self._summaries.get(run.id)
        if cached and cached[0] == signature:
            summary = cached[1]
            if summary.state not in LIVE_STATES:
                return summary
            # Nothing was written, but a live worker may have died: only the state can change.
            state = run.state()
            if state.state == summary.state:
                return summary
            summary = dataclasses.replace(summary, state=state.state, reason=state.reason)
        else:
            summary = summarize(run)
        self._summaries[run.id] = (signature, summary)
        return summary

    # --- the picked run ------------------------------------------------------------------------

    def _poll_picked(self) -> tuple[tuple[str, dict[str, Any]] | None, MetricsDelta | None]:
        with self._lock:
            run, changed = self._picked, self._pick_changed
            self._pick_changed = False
        if changed:
            self._tail = MetricsTail(run.metrics_path) if run else None
            self._sent, self._last_sent_row, self._status_signature = 0, None, None
        if run is None:
            return None, (MetricsDelta("", [], reset=True) if changed else None)
        return self._read_status(run, force=changed), self._read_metrics(run.id, force=changed)

    def _read_status(self, run: RunDir, force: bool) -> tuple[str, dict[str, Any]] | None:
        signature = _stat(run.status_path)
        if signature == self._status_signature and not force:
            return None
        self._status_signature = signature
        try:
            return run.id, run.read_status()
        except UserError:
            return run.id, {}

    def _read_metrics(self, run_id: str, force: bool) -> MetricsDelta | None:
        assert self._tail is not None
        if not self._tail.poll() and not force:
            return None
        rows = self._tail.rows
        n = self._sent
        # A resume marker (or a replaced file) rewrote rows already sent: send them all again.
        continues = n <= len(rows) and (n == 0 or rows[n - 1] is self._last_sent_row)
        reset = force or n == 0 or not continues
        new_rows = list(rows) if reset else rows[n:]
        self._sent = len(rows)
        self._last_sent_row = rows[-1] if rows else None
        if not new_rows and not reset:
            return None
        return MetricsDelta(run_id, new_rows, reset=reset)
