"""The workbench: run history, loss chart, GPU/memory panel and generation pane.

The App owns the services (run watcher, GPU probe, sampler client), runs their blocking work
in thread workers that post messages back, and hands what arrives to the panes. torch never
loads in this process: training runs in detached workers, sampling in a child process.
"""

from __future__ import annotations

import functools
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar, TypeVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Footer, Static, Tab, Tabs
from textual.worker import get_current_worker

from engine.errors import UserError
from engine.launch import launch, request_stop
from engine.runstore import LIVE_STATES, RESUMABLE_STATES, RunDir, RunStore, RunSummary
from nanogpt_tui.commands import AppCommands
from nanogpt_tui.generation import GenerationPane
from nanogpt_tui.gpu_panel import GpuPanel
from nanogpt_tui.gpu_probe import GpuProbe
from nanogpt_tui.loss_chart import LossChart
from nanogpt_tui.messages import (
    GpuSampled,
    MetricsUpdated,
    RunActionFailed,
    RunDeleted,
    RunLaunched,
    RunPicked,
    RunsScanned,
    RunStatusRead,
    SampleFailed,
    SampleFinished,
    SamplerExited,
    SamplerLoaded,
)
from nanogpt_tui.run_details import RunDetails
from nanogpt_tui.run_list import RunList
from nanogpt_tui.run_watcher import RunWatcher
from nanogpt_tui.sampler_client import Event, SamplerClient

GPU_INTERVAL_S = 1.0
# Below this many columns or rows the panes are tabs, one at a time.
WIDE_COLUMNS = 120
TALL_ROWS = 32
PANES = {  # pane -> (tab label, the widget that takes focus)
    "runs": ("Runs F2", "#run-list"),
    "chart": ("Chart F3", "#loss-chart"),
    "gpu": ("GPU F4", "#gpu-pane"),
    "generation": ("Generate F5", "#prompt"),
}

Handler = TypeVar("Handler", bound=Callable[..., None])


def while_running(handler: Handler) -> Handler:
    """Drop messages that arrive after shutdown began: the panes they update are gone."""

    @functools.wraps(handler)
    def guarded(app: NanoGPTApp, message: Message) -> None:
        if app.is_running:
            handler(app, message)

    return guarded  # type: ignore[return-value]


class NanoGPTApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "nanogpt-tui"
    COMMANDS = App.COMMANDS | {AppCommands}
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"),
                                                               (WIDE_COLUMNS, "-wide")]
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-short"), (TALL_ROWS, "-tall")]

    # Focus keys are priority bindings: a plain binding moves focus only after the focused
    # widget has passed the key on, so keys typed right behind it (fast typists, a laggy SSH
    # link delivering a burst) would land in the old field.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "focus_next", "Next", id="focus-next", show=False, priority=True),
        Binding("shift+tab", "focus_previous", "Previous", id="focus-previous", show=False,
                priority=True),
        Binding("f1", "help", "Help", id="help", tooltip="Help for the focused pane."),
        Binding("ctrl+n", "new_run", "New run", id="new-run", tooltip="Start a new run."),
        Binding("f2", "focus_pane('runs')", "Runs", id="focus-runs", show=False,
                priority=True, tooltip="Go to the run history."),
        Binding("f3", "focus_pane('chart')", "Chart", id="focus-chart", show=False,
                priority=True, tooltip="Go to the loss chart."),
        Binding("f4", "focus_pane('gpu')", "GPU", id="focus-gpu", show=False,
                priority=True, tooltip="Go to the GPU/memory panel."),
        Binding("f5", "focus_pane('generation')", "Generate", id="focus-generation",
                show=False, priority=True, tooltip="Go to the prompt."),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True,
                tooltip="Quit. Training runs keep going in the background."),
    ]

    def __init__(
        self,
        runs_dir: Path,
        *,
        clock: Callable[[], float] = time.time,
        probe: GpuProbe | None = None,
        sampler_command: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.store = RunStore(runs_dir)
        self.clock = clock
        self.watcher = RunWatcher(self.store)
        self.probe = probe or GpuProbe()
        self.sampler = SamplerClient(self._on_sampler_event, command=sampler_command)
        self.runs: dict[str, RunSummary] = {}
        self.picked: RunSummary | None = None
        self.picked_status: dict = {}
        self.still_training: list[RunSummary] = []  # at exit; the CLI prints them
        self._pending_pick: str | None = None  # a run just launched, picked once listed
        self._worker_pid: int | None = None  # read by the GPU thread
        self._watch_wakeup = threading.Event()
        self._stopping = threading.Event()
        self.generation = GenerationPane(self.sampler, id="generation-pane", classes="pane")

    def compose(self) -> ComposeResult:
        yield Tabs(*(Tab(label, id=f"tab-{pane}") for pane, (label, _) in PANES.items()),
                   id="pane-tabs")
        with Container(id="panes", classes="-show-runs"):
            # Grid order, row by row: runs and GPU on top, chart and generation below.
            with Vertical(id="runs-pane", classes="pane"):
                yield RunList(self.clock, id="run-list")
                yield Static(f"No runs in {self.store.root} yet. ctrl+n starts one; runs "
                             "started with `nanogpt-tui train` show up here too.",
                             id="runs-empty")
            yield GpuPanel(id="gpu-pane", classes="pane")
            with Vertical(id="chart-pane", classes="pane"):
                yield RunDetails(id="run-details")
                yield LossChart(id="loss-chart")
            yield self.generation
        yield Footer()

    def on_mount(self) -> None:
        titles = {"runs-pane": "Runs", "chart-pane": "Loss", "gpu-pane": "GPU / memory",
                  "generation-pane": "Generate"}
        for pane_id, title in titles.items():
            self.query_one(f"#{pane_id}").border_title = title
        self.query_one(Tabs).can_focus = False  # F2–F5 and clicks switch panes
        self.query_one(RunList).focus()
        self._show_picked()
        # After the first frame: the services' first reads would compete with it for the GIL.
        self.call_after_refresh(self._start_services)

    def _start_services(self) -> None:
        self._watch_runs()
        self._sample_gpus()

    def on_unmount(self) -> None:
        self.still_training = [r for r in self.runs.values() if r.state in LIVE_STATES]
        self.stop_watching()
        self.sampler.close()

    def stop_watching(self) -> None:
        """End the run watcher and the GPU probe: the panes keep what they show."""
        self._stopping.set()
        self._watch_wakeup.set()

    # --- services in thread workers ------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="watch-runs",
          description="Watching the runs directory")
    def _watch_runs(self) -> None:
        reported = False
        worker = get_current_worker()
        while not (self._stopping.is_set() or worker.is_cancelled):
            try:
                result = self.watcher.poll()
            except (OSError, UserError) as exc:
                if not reported:  # once, not four times a second
                    self.post_message(RunActionFailed(f"Cannot read the runs directory: {exc}"))
                reported = True
            else:
                reported = False
                if result.runs is not None:
                    self.post_message(RunsScanned(result.runs))
                if result.status is not None:
                    self.post_message(RunStatusRead(*result.status))
                if result.metrics is not None:
                    self.post_message(MetricsUpdated(result.metrics))
            self._watch_wakeup.wait(self.watcher.interval)
            self._watch_wakeup.clear()

    @work(thread=True, exclusive=True, exit_on_error=False, group="gpu",
          description="Reading GPU and memory figures")
    def _sample_gpus(self) -> None:
        worker = get_current_worker()
        try:
            while not (self._stopping.is_set() or worker.is_cancelled):
                self.post_message(GpuSampled(self.probe.sample(self._worker_pid)))
                self._stopping.wait(GPU_INTERVAL_S)
        finally:
            self.probe.close()

    def _on_sampler_event(self, event: Event) -> None:
        """In the sampler's reader thread: text to the pane's queue, the rest as messages."""
        kind = event.get("event")
        pane = self.generation
        if kind == "text":
            pane.output.feed(str(event.get("id")), str(event.get("text", "")))
        elif kind == "loaded":
            pane.post_message(SamplerLoaded(event))
        elif kind == "done":
            pane.post_message(SampleFinished(event))
        elif kind == "error":
            pane.post_message(SampleFailed(event.get("id"), str(event.get("message", ""))))
        elif kind == "exited":
            pane.post_message(SamplerExited(int(event.get("code", -1)), str(event.get("log"))))

    # --- what the services report --------------------------------------------------------------

    @while_running
    def on_runs_scanned(self, message: RunsScanned) -> None:
        self.runs = {run.id: run for run in message.runs}
        self.query_one(RunList).show_runs(message.runs)
        self.query_one("#runs-empty").display = not self.runs
        if self.picked is not None and self.picked.id in self.runs:
            self.picked = self.runs[self.picked.id]
            self._show_picked()
        if self._pending_pick in self.runs:
            self.query_one(RunList).pick(self._pending_pick)
            self._pending_pick = None
        self.refresh_bindings()

    @while_running
    def on_run_picked(self, message: RunPicked) -> None:
        if message.run_id == (self.picked.id if self.picked else None):
            return
        self.picked = self.runs.get(message.run_id) if message.run_id else None
        self.picked_status = {}
        self._worker_pid = None
        self.watcher.pick(self.picked.id if self.picked else None)
        self._watch_wakeup.set()
        chart = self.query_one(LossChart)
        chart.show_nothing("Reading metrics…" if self.picked else "No run picked.")
        self.generation.set_run(self.picked)
        self._show_picked()
        self.refresh_bindings()

    def _show_picked(self) -> None:
        run = self.picked
        self.query_one(RunDetails).show(run, self.picked_status)
        self.query_one(GpuPanel).show_run(run.name if run else None, self.picked_status)

    @while_running
    def on_run_status_read(self, message: RunStatusRead) -> None:
        if self.picked is None or message.run_id != self.picked.id:
            return
        status = self.picked_status = message.status
        live = status.get("state") in LIVE_STATES and status.get("host") == socket.gethostname()
        self._worker_pid = status.get("pid") if live and isinstance(status.get("pid"), int) \
            else None
        self._show_picked()

    @while_running
    def on_metrics_updated(self, message: MetricsUpdated) -> None:
        delta = message.delta
        if self.picked is not None and delta.run_id == self.picked.id:
            self.query_one(LossChart).show_rows(delta.rows, delta.reset)

    @while_running
    def on_gpu_sampled(self, message: GpuSampled) -> None:
        self.query_one(GpuPanel).show_reading(message.reading)

    def on_run_launched(self, message: RunLaunched) -> None:
        verb = "Resumed" if message.resumed else "Started"
        self.notify(f"{verb} run {message.run_id} (worker pid {message.pid}).")
        self._pending_pick = message.run_id
        self._watch_wakeup.set()

    def on_run_deleted(self, message: RunDeleted) -> None:
        self.notify(f"Deleted run {message.run_id}.")
        self._watch_wakeup.set()

    def on_run_action_failed(self, message: RunActionFailed) -> None:
        self.notify(message.message, severity="error", timeout=8)

    # --- panes ---------------------------------------------------------------------------------

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        self._show_pane(event.tab.id.removeprefix("tab-") if event.tab.id else "runs")

    def _show_pane(self, pane: str) -> None:
        """The pane on show when the panes are tabs."""
        panes = self.query_one("#panes")
        for name in PANES:
            panes.set_class(name == pane, f"-show-{name}")
        self.query_one(Tabs).active = f"tab-{pane}"

    def action_focus_pane(self, pane: str) -> None:
        self._show_pane(pane)
        # At once, not via Widget.focus (a later callback): keys right behind this one must
        # already reach the pane.
        self.set_focus(self.query_one(PANES[pane][1]))

    def action_help(self) -> None:
        from nanogpt_tui.help_screen import HelpScreen

        focused: Widget | None = self.focused
        help_text = "## nanogpt-tui\n\nTrain small character-level GPTs and talk to them.\n"
        for node in focused.ancestors_with_self if focused else ():
            if isinstance(node, Widget) and node.HELP:
                help_text = node.HELP
                break
        self.push_screen(HelpScreen(help_text))

    # --- run actions ---------------------------------------------------------------------------

    def action_enabled(self, action: str) -> bool:
        """For the command palette: can this action (with its arguments) run now?"""
        name, _, _ = action.partition("(")
        return bool(self.check_action(name, ()))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        state = self.picked.state if self.picked else None
        if action == "stop_run":
            return True if state in ("starting", "running") else None
        if action == "resume_run":
            return True if state in RESUMABLE_STATES else None
        if action == "delete_run":
            return True if state is not None and state not in LIVE_STATES else None
        if action == "view_config":
            return True if state is not None else None
        if action in ("stop_sample", "save_sample"):
            return self.generation.check_action(action, parameters)
        return True

    def action_new_run(self) -> None:
        from nanogpt_tui.new_run import NewRunScreen

        self.push_screen(NewRunScreen(self.store))

    def action_pick_run(self, run_id: str) -> None:
        self.action_focus_pane("runs")
        self.query_one(RunList).pick(run_id)

    def action_stop_run(self) -> None:
        self._confirm_then("stop", "Stop run",
                           "It finishes its current step, saves last.pt and stops. "
                           "Resume continues from there.", "Stop")

    def action_delete_run(self) -> None:
        self._confirm_then("delete", "Delete run",
                           "Its checkpoints, metrics and samples are removed for good.", "Delete")

    def action_resume_run(self) -> None:
        if self.picked is not None:
            self._run_action("resume", self.picked.id)

    def _confirm_then(self, what: str, title: str, consequence: str, label: str) -> None:
        from nanogpt_tui.confirm import ConfirmScreen

        run = self.picked
        if run is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._run_action(what, run.id)

        self.push_screen(ConfirmScreen(f"{title} {run.name}?", consequence, label), answered)

    @work(thread=True, exit_on_error=False, group="run-action", description="Run action")
    def _run_action(self, what: str, run_id: str) -> None:
        run = RunDir(self.store.root / run_id)
        try:
            if what == "stop":
                pid = request_stop(run)
                self.notify(f"Asked run {run_id} (pid {pid}) to checkpoint and stop.")
                self._watch_wakeup.set()
            elif what == "resume":
                self.post_message(RunLaunched(run_id, launch(run, resume=True), resumed=True))
            elif what == "delete":
                self.store.delete(run)
                self.post_message(RunDeleted(run_id))
        except (UserError, OSError) as exc:
            self.post_message(RunActionFailed(f"Could not {what} run {run_id}: {exc}"))

    def action_view_config(self) -> None:
        from nanogpt_tui.config_view import ConfigScreen

        if self.picked is None:
            return
        try:
            config = RunDir(self.picked.path).read_config()
        except UserError as exc:
            self.notify(str(exc), severity="error")
            return
        self.push_screen(ConfigScreen(f"Config of {self.picked.name}", config))

    # --- chart and generation, for the palette --------------------------------------------------

    def action_toggle_log_y(self) -> None:
        self.query_one(LossChart).action_toggle_log_y()

    def action_generate(self) -> None:
        self.action_focus_pane("generation")
        self.generation.generate()

    def action_stop_sample(self) -> None:
        self.generation.action_stop_sample()

    def action_save_sample(self) -> None:
        self.generation.action_save_sample()
