"""End to end: the installed `nanogpt-tui` in a real terminal (tmux), as a person uses it.

Start a tiny run from the form, watch its val loss arrive, generate text from it while it
trains, quit, and find the training still running.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from engine.corpus import DATA_ENV
from engine.launch import request_stop, wait_until_stopped
from engine.runstore import LIVE_STATES, RunStore, pid_alive
from tests.test_worker import wait_for
from tests.tui.tmux import Tmux

REPO = Path(__file__).resolve().parents[2]
INSTALLED = Path(sys.executable).with_name("nanogpt-tui")
# Tab order of the form after the preset: name, data, model, optimizer, then these inputs.
FORM = [("name", "e2e"), ("data", None), ("model", None), ("optimizer", None),
        ("n_layer", "1"), ("n_head", "2"), ("n_embd", "16"), ("block_size", "16"),
        ("dropout", "0"), ("batch_size", "4"), ("max_iters", "100000"),
        ("learning_rate", "0.01"), ("eval_interval", "20"), ("device", "cpu")]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Tmux.available(), reason="tmux is not installed"),
    pytest.mark.skipif(not INSTALLED.exists(), reason="nanogpt-tui is not installed"),
]


def test_train_watch_generate_quit_and_training_goes_on(tmp_path: Path,
                                                        tiny_shakespeare: Path) -> None:
    runs = tmp_path / "runs"
    env = {DATA_ENV: str(tiny_shakespeare), "NANOGPT_TUI_CACHE": str(tmp_path / "cache"),
           "TEXTUAL_ANIMATIONS": "none"}
    tmux = Tmux(f"ntui-e2e-{os.getpid()}")
    store = RunStore(runs)
    try:
        tmux.start([str(INSTALLED), "--runs-dir", str(runs), "--no-mouse"], env, str(tmp_path))
        tmux.wait_for(r"Runs", timeout=15)
        tmux.wait_for(r"No runs in", timeout=15)

        tmux.keys("C-n")
        tmux.wait_for(r"Start \(ctrl\+s\)")
        for key, value in FORM:
            tmux.keys("Tab")
            # Typed keys go to the widget focused when they arrive, and a Tab moves focus
            # only once the focused widget has passed it on: wait for the field's hint.
            tmux.wait_for(rf"{key}: ")
            if value is not None:
                tmux.type(value)
        tmux.keys("C-s")
        tmux.wait_for(r"e2e\s+(starting|running)", timeout=20)
        # A val loss in the list's best-val column; then best.pt after the eval at step 20.
        tmux.wait_for(r"e2e\s+running\s+\S+\s+\d+/100000\s+\d\.\d{4}", timeout=90)
        run = store.get("e2e")
        tmux.wait_for(r"best val \d\.\d{4}", timeout=30)  # and marked in the chart
        wait_for(lambda: run.checkpoint_path("best").exists(), timeout=90)  # after an eval

        tmux.keys("F5", "BTab", "BTab")  # from the prompt back to the chars control
        tmux.type("20000")
        tmux.wait_for(r"chars\s+20000")
        tmux.keys("F5")
        tmux.type("ROMEO:")
        tmux.wait_for(r"▊\s+ROMEO:")
        tmux.keys("Enter")
        first = tmux.wait_for(r"(?s)Generating.*", timeout=60).string
        later = _wait_screen_change(tmux, first, timeout=30)
        assert "Generating" in later, "the text should still be streaming"
        tmux.keys("Escape")
        stopped = tmux.wait_for(r"Stopped after (\d+) chars", timeout=30)
        assert 0 < int(stopped.group(1)) < 20000

        worker_pid = run.read_status()["pid"]
        tmux.keys("C-q")
        tmux.wait_for(r"1 run still training: e2e", timeout=15)
        tmux.wait_for(r"EXITED 0", timeout=10)
        status = run.read_status()
        assert run.state().state == "running" and pid_alive(worker_pid, status["pid_started"])
    finally:
        tmux.kill()
        for summary in store.summaries():
            live = store.get(summary.id)
            if live.state().state in LIVE_STATES:
                request_stop(live)
                wait_until_stopped(live, 60)


def _wait_screen_change(tmux: Tmux, before: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while (screen := tmux.screen()) == before:
        assert time.monotonic() < deadline, "the screen stopped changing"
        time.sleep(0.05)
    return screen
