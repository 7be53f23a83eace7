"""The run watcher against real run directories: summaries, status and metric deltas."""

from __future__ import annotations

import json
from pathlib import Path

from engine.runstore import RunDir, RunStore
from nanogpt_tui.run_watcher import FAST_INTERVAL_S, SLOW_INTERVAL_S, RunWatcher
from tests.conftest import tiny_config


def _gpt(store: RunStore) -> RunDir:
    return store.get("tiny-gpt")


def _append(run: RunDir, *rows: dict) -> None:
    with open(run.metrics_path, "a", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def test_first_poll_lists_runs_newest_first_then_nothing_changes(runs_copy: Path) -> None:
    watcher = RunWatcher(RunStore(runs_copy))
    first = watcher.poll()
    assert [r.name for r in first.runs] == ["tiny-bigram", "tiny-gpt"]
    assert {r.state for r in first.runs} == {"done"}
    assert first.status is None and first.metrics is None  # nothing picked
    assert watcher.poll().runs is None
    assert watcher.interval == SLOW_INTERVAL_S


def test_a_run_created_elsewhere_appears_and_a_deleted_one_goes(runs_copy: Path) -> None:
    store = RunStore(runs_copy)
    watcher = RunWatcher(store)
    watcher.poll()
    new = store.create(tiny_config(), name="from-the-cli")
    assert "from-the-cli" in [r.name for r in watcher.poll().runs]
    store.delete(new)
    assert "from-the-cli" not in [r.name for r in watcher.poll().runs]


def test_picking_a_run_sends_its_status_and_all_its_rows(runs_copy: Path) -> None:
    store = RunStore(runs_copy)
    watcher = RunWatcher(store)
    run = _gpt(store)
    watcher.pick(run.id)
    result = watcher.poll()
    assert result.status == (run.id, run.read_status())
    assert result.metrics.run_id == run.id and result.metrics.reset
    kinds = {row["kind"] for row in result.metrics.rows}
    assert kinds == {"train", "eval"}
    assert watcher.poll().metrics is None and watcher.poll().status is None


def test_new_rows_come_as_a_delta_and_a_resume_resends_everything(runs_copy: Path) -> None:
    store = RunStore(runs_copy)
    watcher = RunWatcher(store)
    run = _gpt(store)
    watcher.pick(run.id)
    total = len(watcher.poll().metrics.rows)
    _append(run, {"kind": "train", "step": 110, "loss": 2.4})
    delta = watcher.poll().metrics
    assert not delta.reset and [r["step"] for r in delta.rows] == [110]
    _append(run, {"kind": "resume", "step": 50}, {"kind": "train", "step": 60, "loss": 2.7})
    delta = watcher.poll().metrics
    assert delta.reset
    assert max(r["step"] for r in delta.rows) == 60
    assert len(delta.rows) < total


def test_a_torn_last_line_waits_for_its_end(runs_copy: Path) -> None:
    store = RunStore(runs_copy)
    watcher = RunWatcher(store)
    run = _gpt(store)
    watcher.pick(run.id)
    watcher.poll()
    with open(run.metrics_path, "a", encoding="utf-8") as f:
        f.write('{"kind": "train", "step": 120, "lo')
    assert watcher.poll().metrics is None
    with open(run.metrics_path, "a", encoding="utf-8") as f:
        f.write('ss": 2.3}\n')
    assert [r["step"] for r in watcher.poll().metrics.rows] == [120]


def test_a_live_status_is_noticed_and_speeds_up_polling(runs_copy: Path) -> None:
    import os
    import socket

    from engine.runstore import process_started

    store = RunStore(runs_copy)
    watcher = RunWatcher(store)
    run = _gpt(store)
    watcher.poll()
    # This test's own process stands in for a live worker.
    run.update_status(state="running", pid=os.getpid(), pid_started=process_started(os.getpid()),
                      host=socket.gethostname())
    states = {r.name: r.state for r in watcher.poll().runs}
    assert states["tiny-gpt"] == "running"
    assert watcher.interval == FAST_INTERVAL_S
    run.update_status(pid=2**22 + 12345)  # the worker died without a word
    states = {r.name: r.state for r in watcher.poll().runs}
    assert states["tiny-gpt"] == "interrupted"


def test_unpicking_clears_the_chart(runs_copy: Path) -> None:
    store = RunStore(runs_copy)
    watcher = RunWatcher(store)
    watcher.pick(_gpt(store).id)
    watcher.poll()
    watcher.pick(None)
    result = watcher.poll()
    assert result.metrics.reset and result.metrics.rows == [] and result.status is None
