"""Pilot tests of the run history and the run details, against real trained runs."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from engine.runstore import RunStore, process_started
from nanogpt_tui.app import NanoGPTApp
from nanogpt_tui.loss_chart import LossChart
from nanogpt_tui.run_details import RunDetails
from nanogpt_tui.run_list import RunList
from tests.conftest import tiny_config
from tests.tui.conftest import wait_for


async def test_lists_every_run_newest_first_and_picks_the_newest(trained_runs: Path) -> None:
    app = NanoGPTApp(trained_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        runs = app.query_one(RunList)
        await wait_for(pilot, lambda: runs.row_count == 2, what="two rows")
        names = [str(runs.get_row_at(i)[0]) for i in range(2)]
        assert names == ["tiny-bigram", "tiny-gpt"]
        row = [str(cell) for cell in runs.get_row_at(1)]
        assert row[1] == "done" and row[3] == "100/100"
        assert float(row[4]) < 3.0  # best val of the real run
        await wait_for(pilot, lambda: app.picked is not None, what="a picked run")
        assert app.picked.name == "tiny-bigram"


async def test_moving_the_cursor_picks_the_run_for_chart_details_and_generation(
    trained_runs: Path,
) -> None:
    app = NanoGPTApp(trained_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.picked is not None, what="a picked run")
        await pilot.press("down")
        await wait_for(pilot, lambda: app.picked.name == "tiny-gpt", what="tiny-gpt picked")
        chart = app.query_one(LossChart)
        await wait_for(pilot, lambda: chart.series.best_val is not None, what="metrics")
        assert chart.series.train[0][-1] == 100
        details = str(app.query_one(RunDetails).render())
        assert "tiny-gpt" in details and "step 100/100" in details and "cpu" in details
        assert app.generation.run.name == "tiny-gpt"


async def test_a_run_started_elsewhere_appears_by_itself(runs_copy: Path) -> None:
    app = NanoGPTApp(runs_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        runs = app.query_one(RunList)
        await wait_for(pilot, lambda: runs.row_count == 2, what="two rows")
        RunStore(runs_copy).create(tiny_config(), name="headless")
        await wait_for(pilot, lambda: runs.row_count == 3, what="the new run")
        assert str(runs.get_row_at(0)[0]) == "headless"
        assert str(runs.get_row_at(0)[1]) == "created"


async def test_a_training_run_updates_live(runs_copy: Path) -> None:
    """Rows and status appended the way a worker does show in the list and chart."""
    store = RunStore(runs_copy)
    run = store.get("tiny-gpt")
    pid = os.getpid()  # this process stands in for the live worker
    run.update_status(state="running", pid=pid, pid_started=process_started(pid),
                      host=socket.gethostname(), max_iters=200)
    app = NanoGPTApp(runs_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        runs = app.query_one(RunList)
        await wait_for(pilot, lambda: runs.row_count == 2, what="rows")
        runs.pick(run.id)
        chart = app.query_one(LossChart)
        await wait_for(pilot, lambda: chart.series.train[0][-1:] == [100], what="metrics")
        assert str(runs.get_row_at(1)[1]) == "running"
        with open(run.metrics_path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"kind": "train", "step": 110, "loss": 2.3}) + "\n")
            f.write(json.dumps({"kind": "eval", "step": 110, "train_loss": 2.3,
                                "val_loss": 2.2, "best_val": 2.2}) + "\n")
        run.update_status(step=110, best_val=2.2, val_loss=2.2)
        await wait_for(pilot, lambda: chart.series.best_val == (110, 2.2), what="new eval")
        await wait_for(pilot, lambda: str(runs.get_row_at(1)[3]) == "110/200", what="step")
        assert "2.2000" in str(runs.get_row_at(1)[4])
        assert app.check_action("stop_run", ()) is True
        assert app.check_action("delete_run", ()) is None  # never a live run
        assert app.check_action("resume_run", ()) is None
