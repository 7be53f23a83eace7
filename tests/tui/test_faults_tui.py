"""Faults as the workbench meets them: damaged runs, a terminal that goes away, two viewers."""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path

import psutil
import pytest

from engine.corpus import DATA_ENV
from engine.launch import launch, request_stop, wait_until_stopped
from engine.runstore import RunStore, pid_alive
from nanogpt_tui.app import NanoGPTApp
from nanogpt_tui.loss_chart import LossChart
from nanogpt_tui.run_details import RunDetails
from nanogpt_tui.run_list import RunList
from tests.conftest import tiny_config
from tests.tui.conftest import wait_for
from tests.tui.tmux import Tmux

INSTALLED = Path(sys.executable).with_name("nanogpt-tui")


def _row(runs: RunList, name: str) -> list[str]:
    for i in range(runs.row_count):
        row = [str(cell) for cell in runs.get_row_at(i)]
        if row[0] == name:
            return row
    raise AssertionError(f"no row {name}")


async def test_damaged_runs_show_their_reason_and_the_rest_keeps_working(runs_copy: Path):
    store = RunStore(runs_copy)
    broken_status = store.get("tiny-bigram")
    broken_status.status_path.write_text("{garbage")
    broken_config = runs_copy / "20000101-000000-badconfig"
    shutil.copytree(store.get("tiny-gpt").path, broken_config)
    (broken_config / "config.toml").write_text("n_layer = 'four'\n")
    (runs_copy / "20000101-000000-empty").mkdir()
    (runs_copy / "stray.txt").write_text("not a run")

    app = NanoGPTApp(runs_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        runs = app.query_one(RunList)
        await wait_for(pilot, lambda: runs.row_count == 4, what="four runs (the stray file is "
                       "no run)")
        assert _row(runs, "tiny-bigram")[1] == "error"
        assert _row(runs, "20000101-000000-badconfig")[1] == "error"
        assert _row(runs, "20000101-000000-empty")[1] == "error"

        runs.pick(broken_status.id)
        await wait_for(pilot, lambda: "status.json is not valid JSON"
                       in str(app.query_one(RunDetails).render()), what="the reason shown")
        assert app.check_action("resume_run", ()) is None

        runs.pick("20000101-000000-badconfig")
        await wait_for(pilot, lambda: "must be an integer"
                       in str(app.query_one(RunDetails).render()), what="the config reason")

        good = store.get("tiny-gpt")
        runs.pick(good.id)
        chart = app.query_one(LossChart)
        await wait_for(pilot, lambda: chart.series.best_val is not None, what="the good chart")

        # A run that breaks while the app watches it turns to error; the app goes on.
        good.status_path.write_text("\x00")
        await wait_for(pilot, lambda: _row(runs, "tiny-gpt")[1] == "error", what="error row")
        good.status_path.write_text('{"state": "done", "step": 100, "max_iters": 100}')
        await wait_for(pilot, lambda: _row(runs, "tiny-gpt")[1] == "done", what="healed row")


def _step_on_screen(tmux: Tmux, name: str) -> int:
    found = re.search(rf"{name}\s+running\s+\S+\s+(\d+)/", tmux.screen())
    return int(found.group(1)) if found else -1


def _wait_step_beyond(tmux: Tmux, name: str, step: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while (seen := _step_on_screen(tmux, name)) <= step:
        assert time.monotonic() < deadline, f"{name} not past step {step}:\n{tmux.screen()}"
        time.sleep(0.1)
    return seen


@pytest.mark.e2e
@pytest.mark.skipif(not Tmux.available() or not INSTALLED.exists(),
                    reason="needs tmux and the installed nanogpt-tui")
def test_terminal_loss_leaves_training_alone_and_viewers_do_not_interfere(tmp_path: Path,
                                                                         tiny_shakespeare):
    store = RunStore(tmp_path / "runs")
    run = store.create(tiny_config(max_iters=1_000_000, eval_interval=100, log_interval=5),
                       name="watched")
    pid = launch(run)
    env = {DATA_ENV: str(tiny_shakespeare), "NANOGPT_TUI_CACHE": str(tmp_path / "cache"),
           "TEXTUAL_ANIMATIONS": "none"}
    command = [str(INSTALLED), "--runs-dir", str(store.root), "--no-mouse"]
    first, second, third = (Tmux(f"ntui-fault-{os.getpid()}-{n}") for n in range(3))
    try:
        for viewer in (first, second):
            viewer.start(command, env, str(tmp_path))
        step = max(_wait_step_beyond(first, "watched", 0), _wait_step_beyond(second, "watched", 0))

        # The first terminal goes away (its tmux server dies: the app gets SIGHUP).
        app = [p for p in psutil.Process(first.pane_pid()).children(recursive=True)
               if "nanogpt-tui" in " ".join(p.cmdline())]
        assert app, "the app process was not found under the pane"
        first.kill()
        _, alive = psutil.wait_procs(app, timeout=10)
        assert not alive
        assert run.state().state == "running" and pid_alive(pid)

        # The second viewer still follows the run live, and a new one picks it up.
        step = _wait_step_beyond(second, "watched", step)
        third.start(command, env, str(tmp_path))
        _wait_step_beyond(third, "watched", step)
        second.keys("C-q")
        second.wait_for(r"1 run still training: watched", timeout=15)
        _wait_step_beyond(third, "watched", _step_on_screen(third, "watched"))
        assert run.state().state == "running" and pid_alive(pid)
    finally:
        for viewer in (first, second, third):
            viewer.kill()
        request_stop(run)
        wait_until_stopped(run, 60)
