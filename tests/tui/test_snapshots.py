"""Screens at 80×24 and 120×40, pixel for pixel (Textual is pinned: releases move snapshots).

Nothing on them may depend on when or where they are taken: fixed runs (tests/tui/showcase.py),
a frozen clock for ages, a fixed GPU reading and history, no cursor blink, and the watcher and
probe stopped before the picture.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nanogpt_tui.app import NanoGPTApp
from nanogpt_tui.gpu_panel import GpuPanel, HistoryBars
from nanogpt_tui.loss_chart import LossChart
from tests.tui.conftest import FixedProbe, wait_for
from tests.tui.showcase import FROZEN_NOW, write_showcase_runs

HISTORY = [11, 11.5, 12, 14, 19, 25, 31, 36, 38, 39, 39, 40, 40, 41, 40, 40, 41, 41, 40, 40]


@pytest.fixture
def showcase(tmp_path: Path) -> Path:
    return write_showcase_runs(tmp_path / "runs")


def _app(runs: Path) -> NanoGPTApp:
    return NanoGPTApp(runs, clock=lambda: FROZEN_NOW, probe=FixedProbe())


async def _settle(pilot) -> None:
    app: NanoGPTApp = pilot.app
    chart = app.query_one(LossChart)
    panel = app.query_one(GpuPanel)
    await wait_for(pilot, lambda: len(app.runs) == 5 and app.picked is not None
                   and not chart.series.empty and panel.reading is not None
                   and panel.run_name is not None, what="runs, metrics and a GPU reading")
    app.stop_watching()
    await pilot.pause(0.2)
    bars = panel.query_one(HistoryBars)
    bars.values.clear()
    for gib in HISTORY:
        bars.add(gib * 2**30, 80 * 2**30)
    chart.refresh()


def test_main_screen_120x40(snap_compare, showcase: Path) -> None:
    assert snap_compare(_app(showcase), terminal_size=(120, 40), run_before=_settle)


def test_main_screen_80x24(snap_compare, showcase: Path) -> None:
    assert snap_compare(_app(showcase), terminal_size=(80, 24), run_before=_settle)


def test_chart_tab_80x24(snap_compare, showcase: Path) -> None:
    assert snap_compare(_app(showcase), terminal_size=(80, 24), run_before=_settle,
                        press=["f3"])
