"""How fast and how frugal the TUI is in a real terminal: `python bench/tui_speed.py`.

Runs the installed `nanogpt-tui` in a private tmux server (never the user's own) on the fixed
runs of tests/tui/showcase.py (its newest run counts as training while this script runs, so
the run watcher polls at its fast rate) and measures:

- time to first frame: from starting tmux to the "Runs" pane title on the captured screen;
- idle CPU: the app process over 10 s with nothing to do but watch;
- CPU while streaming ~1,000 chars/s: the generation pane fed by a scripted stand-in for the
  sampler (tests/tui/scripted_sampler.py, through NANOGPT_TUI_SAMPLER) that streams canned
  text at a fixed rate, so the figure is the TUI's cost alone, not the model's. The stand-in
  runs in its own process and is not counted.

CPU is the app process's user+system time over wall time (100 % = one core).
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.tui.showcase import write_showcase_runs  # noqa: E402
from tests.tui.tmux import Tmux  # noqa: E402

APP = Path(sys.executable).with_name("nanogpt-tui")
SAMPLER = REPO / "tests" / "tui" / "scripted_sampler.py"
TARGETS = {"first frame": 1.0, "idle CPU": 3.0, "streaming CPU": 35.0}


def start(tmux: Tmux, runs: Path, cps: float) -> psutil.Process:
    env = {"TEXTUAL_ANIMATIONS": "none", "NANOGPT_TUI_CACHE": str(runs.parent / "cache"),
           "NANOGPT_TUI_SAMPLER": shlex.join([sys.executable, str(SAMPLER), "--cps", str(cps)])}
    tmux.start([str(APP), "--runs-dir", str(runs)], env, str(runs.parent))
    shell = psutil.Process(tmux.pane_pid())
    deadline = time.monotonic() + 10
    while True:  # the pane runs `sh -c "... nanogpt-tui ..."`: find the app under it
        apps = [p for p in shell.children(recursive=True)
                if "nanogpt-tui" in " ".join(p.cmdline())]
        if apps:
            return apps[0]
        if time.monotonic() > deadline:
            raise RuntimeError("nanogpt-tui did not start")
        time.sleep(0.01)


def first_frame(runs: Path, size: tuple[int, int], repeats: int) -> list[float]:
    times = []
    for i in range(repeats):
        tmux = Tmux(f"ntui-bench-ff-{os.getpid()}-{i}", *size)
        try:
            t0 = time.perf_counter()
            start(tmux, runs, cps=1000)
            while "Runs" not in tmux.screen():
                time.sleep(0.005)
            times.append(time.perf_counter() - t0)
        finally:
            tmux.keys("C-q")
            time.sleep(0.3)
            tmux.kill()
    return times


def cpu_percent(proc: psutil.Process, seconds: float) -> float:
    before = proc.cpu_times()
    t0 = time.perf_counter()
    time.sleep(seconds)
    after = proc.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    return 100 * used / (time.perf_counter() - t0)


def idle_and_streaming(runs: Path, seconds: float, cps: float) -> tuple[float, float]:
    tmux = Tmux(f"ntui-bench-cpu-{os.getpid()}", 120, 40)
    try:
        app = start(tmux, runs, cps)
        tmux.wait_for(r"best val", timeout=15)  # runs listed, chart drawn
        time.sleep(2)  # let start-up work finish before counting
        idle = cpu_percent(app, seconds)

        tmux.keys("F5", "BTab", "BTab")  # the chars control
        tmux.type(str(int(cps * (seconds + 8))))
        tmux.keys("F5")
        tmux.type("ROMEO:")
        tmux.keys("Enter")
        tmux.wait_for(r"Generating", timeout=15)
        time.sleep(1)
        streaming = cpu_percent(app, seconds)
        if "Generating" not in tmux.screen():
            raise RuntimeError("the sample ended before the measurement did")
        tmux.keys("Escape")
        tmux.wait_for(r"Stopped after \d+ chars", timeout=15)
        return idle, streaming
    finally:
        tmux.keys("C-q")
        time.sleep(0.3)
        tmux.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="each CPU measurement")
    parser.add_argument("--cps", type=float, default=1000.0, help="streamed characters/s")
    parser.add_argument("--repeats", type=int, default=5, help="first-frame measurements")
    args = parser.parse_args()
    if not Tmux.available() or not APP.exists():
        print("needs tmux and the installed nanogpt-tui (pip install -e .)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        runs = write_showcase_runs(Path(tmp) / "runs", now=time.time())
        for run in runs.iterdir():  # the scripted sampler never reads it; the pane checks for it
            (run / "best.pt").touch()
        ff80 = first_frame(runs, (80, 24), args.repeats)
        ff120 = first_frame(runs, (120, 40), args.repeats)
        idle, streaming = idle_and_streaming(runs, args.seconds, args.cps)
    load = os.getloadavg()[0]
    rows = [
        (f"first frame 80x24 (median of {args.repeats})", statistics.median(ff80), "s",
         TARGETS["first frame"]),
        (f"first frame 120x40 (median of {args.repeats})", statistics.median(ff120), "s",
         TARGETS["first frame"]),
        (f"idle CPU over {args.seconds:.0f} s", idle, "% core", TARGETS["idle CPU"]),
        (f"CPU streaming {args.cps:.0f} chars/s", streaming, "% core",
         TARGETS["streaming CPU"]),
    ]
    print(f"nanogpt-tui speed, {psutil.cpu_count()} cores, load average {load:.1f}")
    print(f"{'measure':38} {'value':>9}  {'target':>9}  result")
    for name, value, unit, target in rows:
        verdict = "pass" if value <= target else "FAIL"
        print(f"{name:38} {value:7.2f} {unit:<6} <= {target:g} {unit:<6} {verdict}")
    print(f"first frames (s): 80x24 {[round(t, 2) for t in ff80]}, "
          f"120x40 {[round(t, 2) for t in ff120]}")
    return 0 if all(v <= t for _, v, _, t in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
