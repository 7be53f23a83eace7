"""Pilot tests of the loss chart, the GPU/memory panel and the generation pane."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from engine.runstore import RunStore
from engine.samples import read_sample
from nanogpt_tui.app import NanoGPTApp
from nanogpt_tui.gpu_panel import GpuPanel
from nanogpt_tui.loss_chart import LossChart
from nanogpt_tui.stream_log import StreamLog
from tests.tui.conftest import FixedProbe, scripted_sampler, wait_for


async def _pick_gpt(app: NanoGPTApp, pilot) -> None:
    await wait_for(pilot, lambda: "tiny-gpt" in [r.name for r in app.runs.values()],
                   what="runs")
    app.action_pick_run(RunStore(app.store.root).get("tiny-gpt").id)
    chart = app.query_one(LossChart)
    # The newest run (tiny-bigram, 60 steps) is picked first: wait for tiny-gpt's 100 steps.
    await wait_for(pilot, lambda: app.picked is not None and app.picked.name == "tiny-gpt"
                   and chart.series.train[0][-1:] == [100], what="tiny-gpt's metrics")


async def test_chart_draws_train_and_val_marks_best_and_toggles_log_y(trained_runs: Path) -> None:
    app = NanoGPTApp(trained_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await _pick_gpt(app, pilot)
        chart = app.query_one(LossChart)
        drawn = str(chart.render())
        assert "train" in drawn and "val" in drawn and "best val" in drawn
        assert "step" in drawn
        assert chart.series.val[0] == [0, 50, 100]
        await pilot.press("f3")
        assert app.focused is chart
        await pilot.press("l")
        assert chart.log_y
        assert "log y" in str(chart.render())
        await pilot.press("l")
        assert not chart.log_y


async def test_chart_says_so_when_a_run_has_no_metrics(runs_copy: Path) -> None:
    from tests.conftest import tiny_config

    run = RunStore(runs_copy).create(tiny_config(), name="fresh")
    app = NanoGPTApp(runs_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.picked is not None and app.picked.id == run.id,
                       what="the fresh run picked")
        chart = app.query_one(LossChart)
        await wait_for(pilot, lambda: "No metrics yet" in str(chart.render()), what="placeholder")


async def test_gpu_panel_without_a_driver_shows_host_memory_and_run_rss(trained_runs: Path) -> None:
    app = NanoGPTApp(trained_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await _pick_gpt(app, pilot)
        panel = app.query_one(GpuPanel)
        await wait_for(pilot, lambda: panel.reading is not None and panel.run_name == "tiny-gpt",
                       what="a reading with tiny-gpt's memory")
        text = str(panel.query_one("#gpu-text").render())
        if panel.reading.devices:
            pytest.skip("this machine has an NVIDIA driver")
        assert "No NVIDIA GPU" in text and "host" in text
        assert "tiny-gpt" in text and "RSS" in text and "last reported" in text


async def test_gpu_panel_shows_nvml_figures_and_keeps_a_history(trained_runs: Path) -> None:
    app = NanoGPTApp(trained_runs, probe=FixedProbe())
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.query_one(GpuPanel)
        await wait_for(pilot, lambda: len(panel.query_one("HistoryBars").values) >= 2,
                       what="two readings")
        text = str(panel.query_one("#gpu-text").render())
        assert "NVIDIA H100 80GB HBM3" in text
        assert "12.0 GiB / 80.0 GiB" in text and "util 87%" in text and "312/700 W" in text
        panel.show_run("cuda-run", {"memory": {"allocated": 2**30, "reserved": 2 * 2**30,
                                               "peak": 3 * 2**29, "rss": 2**28}})
        text = str(panel.query_one("#gpu-text").render())
        assert "allocated 1.0 GiB" in text and "reserved 2.0 GiB" in text
        assert "peak 1.5 GiB" in text


def _generation_app(runs: Path, cps: float = 4000.0) -> NanoGPTApp:
    return NanoGPTApp(runs, sampler_command=scripted_sampler(cps))


async def test_a_prompt_streams_generated_text_and_can_be_saved(runs_copy: Path) -> None:
    app = _generation_app(runs_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await _pick_gpt(app, pilot)
        await pilot.press("f5")
        assert app.focused is app.query_one("#prompt", Input)
        await pilot.press(*"ROMEO:", "enter")
        output = app.query_one(StreamLog)
        await wait_for(pilot, lambda: not app.generation.streaming, what="the sample to end")
        assert output.text.startswith("ROMEO:First Citizen:")
        assert len(output.text) == len("ROMEO:") + 500
        assert "Done: 500 chars" in str(app.query_one("#gen-status").render())
        assert app.check_action("save_sample", ()) is True
        await pilot.press("ctrl+s")
        saved = list((app.picked.path / "samples").glob("*.txt"))
        assert len(saved) == 1
        meta, text = read_sample(saved[0])
        assert text == output.text
        assert meta["prompt"] == "ROMEO:" and meta["step"] == 100 and meta["chars"] == 500
        assert "Saved to" in str(app.query_one("#gen-status").render())


async def test_a_prompt_with_unknown_characters_gets_an_inline_message(runs_copy: Path) -> None:
    app = _generation_app(runs_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await _pick_gpt(app, pilot)
        await pilot.press("f5")
        app.query_one("#prompt", Input).value = "ROMÉO"
        await pilot.press("enter")
        status = app.query_one("#gen-status")
        await wait_for(pilot, lambda: "never saw" in str(status.render()), what="the error")
        assert not app.generation.streaming
        assert app.is_running


async def test_bad_controls_are_refused_inline(trained_runs: Path) -> None:
    app = _generation_app(trained_runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await _pick_gpt(app, pilot)
        app.query_one("#temperature", Input).value = "0"
        await pilot.press("f5", "enter")
        assert "temp must be above 0" in str(app.query_one("#gen-status").render())
        assert not app.sampler.running


async def test_escape_stops_and_scrolling_up_keeps_the_place(runs_copy: Path) -> None:
    app = _generation_app(runs_copy, cps=1500)
    async with app.run_test(size=(120, 40)) as pilot:
        await _pick_gpt(app, pilot)
        app.query_one("#chars", Input).value = "100000"
        await pilot.press("f5", *"ROMEO:", "enter")
        output = app.query_one(StreamLog)
        await wait_for(pilot, lambda: output.line_count > 3 * output.size.height,
                       what="several screens of text")
        assert output.is_vertical_scroll_end  # following the stream
        output.scroll_to(y=2, animate=False, immediate=True)
        lines_then = output.line_count
        await wait_for(pilot, lambda: output.line_count > lines_then + 10, what="more text")
        assert output.scroll_y == 2  # still where the reader left it
        assert app.check_action("stop_sample", ()) is True
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.generation.streaming, what="the stop")
        assert "Stopped after" in str(app.query_one("#gen-status").render())
        assert max(len(line) for line in output.lines) <= output.scrollable_content_region.width
