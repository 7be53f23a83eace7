"""Pilot tests of what frames the panes: help, palette, pane keys, small terminals, themes, quit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import Input, Markdown, Tabs

from engine.runstore import RunStore, process_started
from nanogpt_tui import cli
from nanogpt_tui.app import NanoGPTApp
from nanogpt_tui.gpu_panel import GpuPanel
from nanogpt_tui.help_screen import HelpScreen
from nanogpt_tui.loss_chart import LossChart
from nanogpt_tui.run_list import RunList
from tests.tui.conftest import wait_for


@pytest.mark.parametrize(("key", "title"), [("f2", "Run history"), ("f3", "Loss chart"),
                                            ("f4", "GPU / memory"), ("f5", "Generation")])
async def test_f1_shows_help_for_the_focused_pane(trained_runs: Path, key: str,
                                                  title: str) -> None:
    app = NanoGPTApp(trained_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(key, "f1")
        assert isinstance(app.screen, HelpScreen)
        assert f"## {title}" in app.screen.pane_help
        assert app.screen.query_one(Markdown)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_pane_keys_move_focus(trained_runs: Path) -> None:
    app = NanoGPTApp(trained_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        assert isinstance(app.focused, RunList)
        for key, widget in (("f3", LossChart), ("f4", GpuPanel), ("f5", Input),
                            ("f2", RunList)):
            await pilot.press(key)
            assert isinstance(app.focused, widget)


async def test_at_80x24_panes_are_tabs_and_every_pane_is_reachable(trained_runs: Path) -> None:
    app = NanoGPTApp(trained_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.screen.has_class("-narrow")
        tabs = app.query_one(Tabs)
        assert tabs.display
        visible = lambda: [p.id for p in app.query(".pane") if p.display]  # noqa: E731
        assert visible() == ["runs-pane"]
        for key, pane in (("f3", "chart-pane"), ("f4", "gpu-pane"),
                          ("f5", "generation-pane"), ("f2", "runs-pane")):
            await pilot.press(key)
            assert visible() == [pane]
        await pilot.click("#tab-chart")
        assert visible() == ["chart-pane"]
        await pilot.resize_terminal(160, 45)
        await pilot.pause()
        assert app.screen.has_class("-wide") and not tabs.display
        assert len(visible()) == 4


async def test_the_palette_runs_app_actions(trained_runs: Path) -> None:
    app = NanoGPTApp(trained_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.picked is not None, what="a picked run")
        await pilot.press("ctrl+p", *"log-y")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.query_one(LossChart).log_y, what="log y")
        await pilot.press("ctrl+p", *"open run tiny-gpt")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.picked.name == "tiny-gpt", what="tiny-gpt picked")


def test_the_palette_offers_only_what_applies(trained_runs: Path) -> None:
    app = NanoGPTApp(trained_runs)
    assert not app.action_enabled("stop_run")  # nothing picked yet
    assert app.action_enabled("new_run")
    assert app.action_enabled("focus_pane('gpu')")


async def test_themes_switch_and_the_chart_follows(trained_runs: Path) -> None:
    app = NanoGPTApp(trained_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        chart = app.query_one(LossChart)
        await wait_for(pilot, lambda: not chart.series.empty and app.picked_status,
                       what="metrics and status")
        await pilot.pause()  # the details above the chart settle its height
        before = chart.render()
        app.theme = "textual-light"
        await pilot.pause()
        after = chart.render()
        assert after.plain == before.plain  # the same plot...
        assert after.spans != before.spans  # ...in the new theme's colours
        assert app.current_theme.name == "textual-light"


async def test_quitting_leaves_training_alone_and_says_so(runs_copy: Path) -> None:
    run = RunStore(runs_copy).get("tiny-gpt")
    pid = os.getpid()  # this process stands in for the live worker
    run.update_status(state="running", pid=pid, pid_started=process_started(pid),
                      host=socket.gethostname())
    app = NanoGPTApp(runs_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(app.runs) == 2, what="runs")
        await pilot.press("ctrl+q")
    assert [r.name for r in app.still_training] == ["tiny-gpt"]
    assert run.read_status()["state"] == "running"


def test_the_cli_opens_the_app_without_mouse_and_reports_training(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, trained_runs: Path
) -> None:
    seen = {}

    def fake_run(self: NanoGPTApp, mouse: bool = True) -> None:
        seen.update(mouse=mouse, root=self.store.root)
        self.still_training = self.store.summaries()[:1]

    monkeypatch.setattr(NanoGPTApp, "run", fake_run)
    assert cli.main(["--runs-dir", str(trained_runs), "--no-mouse"]) == 0
    assert seen == {"mouse": False, "root": trained_runs}
    out = capsys.readouterr().out
    assert "1 run still training" in out and "tiny-bigram" in out


def test_importing_the_app_does_not_import_torch() -> None:
    code = ("import sys, nanogpt_tui.app, nanogpt_tui.cli; "
            "print('torch' in sys.modules, 'pynvml' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["False", "False"]
