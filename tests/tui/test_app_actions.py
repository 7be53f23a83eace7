"""Pilot tests of the run actions: new run (a real worker), stop, resume, delete, view config."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input, Select

from engine.launch import request_stop, wait_until_stopped
from engine.runstore import LIVE_STATES, RunDir, RunStore
from nanogpt_tui.app import NanoGPTApp
from nanogpt_tui.config_view import ConfigScreen
from nanogpt_tui.confirm import ConfirmScreen
from nanogpt_tui.loss_chart import LossChart
from nanogpt_tui.new_run import NewRunScreen
from tests.tui.conftest import wait_for

TINY_FORM = {"n_layer": "1", "n_head": "2", "n_embd": "16", "block_size": "16",
             "batch_size": "4", "max_iters": "40", "eval_interval": "20",
             "learning_rate": "0.01", "dropout": "0", "device": "cpu"}


def _fill(screen: NewRunScreen, values: dict[str, str]) -> None:
    for key, value in values.items():
        screen.query_one(f"#{key}", Input).value = value


async def test_new_run_form_validates_then_starts_a_worker_that_trains(runs_copy: Path) -> None:
    app = NanoGPTApp(runs_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(app.runs) == 2, what="runs")
        await pilot.press("ctrl+n")
        screen = app.screen
        assert isinstance(screen, NewRunScreen)
        screen.query_one("#preset", Select).value = "bigram"
        await pilot.pause()
        assert screen.query_one("#model", Select).value == "bigram"  # the preset filled in
        screen.query_one("#preset", Select).value = "baby"
        await pilot.pause()
        _fill(screen, {**TINY_FORM, "n_head": "3"})
        await pilot.press("ctrl+s")
        error = str(screen.query_one("#new-run-error").render())
        assert "divisible by n_head" in error and app.screen is screen
        _fill(screen, {"n_head": "2", "max_iters": "ten"})
        await pilot.press("ctrl+s")
        assert "max_iters" in str(screen.query_one("#new-run-error").render())
        assert app.focused is screen.query_one("#max_iters", Input)
        _fill(screen, {"max_iters": "40"})
        screen.query_one("#data", Input).value = "/no/such/file.txt"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "does not exist" in str(
            screen.query_one("#new-run-error").render()), what="the data error")
        screen.query_one("#data", Input).value = ""
        screen.query_one("#name", Input).value = "from-the-form"
        await pilot.click("#new-run-start")
        await wait_for(pilot, lambda: app.picked is not None and app.picked.name == "from-the-form",
                       what="the new run picked")
        run = RunDir(app.picked.path)
        assert run.read_config().n_embd == 16
        chart = app.query_one(LossChart)
        try:
            await wait_for(pilot, lambda: chart.series.val[0], timeout=60,
                           what="the first val loss")
        finally:
            if run.state().state in LIVE_STATES:
                request_stop(run)
                wait_until_stopped(run, 30)


async def test_stop_asks_first_and_then_stops_the_worker(runs_copy: Path) -> None:
    from engine.launch import launch
    from tests.conftest import tiny_config

    store = RunStore(runs_copy)
    run = store.create(tiny_config(max_iters=100_000, eval_interval=50_000), name="long")
    launch(run)
    app = NanoGPTApp(runs_copy)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.picked is not None and app.picked.id == run.id,
                           what="the live run picked")
            await wait_for(pilot, lambda: app.picked.state == "running", timeout=60,
                           what="the worker running")
            assert app.check_action("delete_run", ()) is None
            await pilot.press("d")
            assert not isinstance(app.screen, ConfirmScreen)  # refused for a live run
            await pilot.press("s")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("n")
            assert not isinstance(app.screen, ConfirmScreen)
            assert app.picked.state == "running"
            await pilot.press("s", "y")
            await wait_for(pilot, lambda: app.picked.state == "stopped", timeout=60,
                           what="the run stopped")
            assert app.check_action("resume_run", ()) is True
            assert app.check_action("stop_run", ()) is None
    finally:
        if run.state().state in LIVE_STATES:
            request_stop(run)
        wait_until_stopped(run, 30)


async def test_resume_continues_a_stopped_run(runs_copy: Path) -> None:
    store = RunStore(runs_copy)
    run = store.get("tiny-gpt")
    run.update_status(state="stopped")  # stopped exactly at max_iters: resume finishes it
    app = NanoGPTApp(runs_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(app.runs) == 2, what="runs")
        app.action_pick_run(run.id)
        await wait_for(pilot, lambda: app.picked and app.picked.id == run.id,
                       what="tiny-gpt picked")
        assert app.check_action("resume_run", ()) is True
        await pilot.press("r")
        await wait_for(pilot, lambda: app.picked.state == "done", timeout=60,
                       what="the resumed run done")
        assert '"kind":"resume"' in run.metrics_path.read_text()


async def test_delete_asks_first_and_removes_the_run(runs_copy: Path) -> None:
    app = NanoGPTApp(runs_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.picked is not None, what="a picked run")
        doomed = app.picked
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        assert doomed.name in str(app.screen.query_one(".dialog-title").render())
        await pilot.click("#confirm-yes")
        await wait_for(pilot, lambda: doomed.id not in app.runs, what="the run gone")
        assert not doomed.path.exists()
        assert len(app.runs) == 1


async def test_view_config_shows_every_key(trained_runs: Path) -> None:
    app = NanoGPTApp(trained_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.picked is not None, what="a picked run")
        await pilot.press("c")
        assert isinstance(app.screen, ConfigScreen)
        table = app.screen.query_one(DataTable)
        keys = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert "n_layer" in keys and "learning_rate" in keys
        await pilot.press("escape")
        assert not isinstance(app.screen, ConfigScreen)


async def test_cancelling_the_form_starts_nothing(trained_runs: Path) -> None:
    app = NanoGPTApp(trained_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+n")
        assert isinstance(app.screen, NewRunScreen)
        await pilot.click("#new-run-cancel")
        assert not isinstance(app.screen, NewRunScreen)
        await pilot.press("ctrl+n", "escape")
        assert not isinstance(app.screen, NewRunScreen)
        assert len(list(trained_runs.iterdir())) == 2
