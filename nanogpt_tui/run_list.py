"""The run history: every run in the runs directory, newest first, updated as runs change."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from engine.runstore import RunSummary
from nanogpt_tui import format as fmt
from nanogpt_tui.messages import RunPicked

STATE_STYLES = {
    "running": "bold green", "starting": "green", "stopping": "yellow", "done": "cyan",
    "stopped": "yellow", "interrupted": "bold yellow", "failed": "bold red", "error": "red",
    "imported": "magenta", "created": "dim",
}
COLUMNS = (("name", "Name"), ("state", "State"), ("size", "Size"), ("step", "Step"),
           ("best", "Best val"), ("speed", "Tok/s"), ("age", "Age"))
AGE_REFRESH_S = 30.0


def _cells(run: RunSummary, now: float) -> tuple[Text, ...]:
    return (
        Text(run.name, overflow="ellipsis", no_wrap=True),
        Text(run.state, style=STATE_STYLES.get(run.state, "")),
        Text(fmt.si(run.params), justify="right"),
        Text(f"{run.step}/{run.max_iters}", justify="right"),
        Text(fmt.loss(run.best_val), justify="right"),
        Text(fmt.si(run.tokens_per_s), justify="right"),
        Text(fmt.age(run.created, now), justify="right"),
    )


class RunList(DataTable):
    """One row per run; moving the cursor picks the run for the chart and for generation."""

    HELP = """
## Run history

Every run in the runs directory, newest first, including runs started from the command line
or from another nanogpt-tui. Running runs update live.

Moving the cursor picks a run: the chart, the details and the generation pane follow it.

- `n` new run · `s` stop (asks first) · `r` resume a stopped or interrupted run
- `d` delete (asks first; never a running run) · `c` view the run's config

Keys that do not apply to the picked run's state are greyed out in the footer.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "app.new_run", "New run", id="runs.new-run", show=False,
                tooltip="Start a new run."),
        Binding("s", "app.stop_run", "Stop", id="runs.stop-run",
                tooltip="Ask the picked run to checkpoint and stop."),
        Binding("r", "app.resume_run", "Resume", id="runs.resume-run",
                tooltip="Continue the picked run from its last checkpoint."),
        Binding("d", "app.delete_run", "Delete", id="runs.delete-run",
                tooltip="Delete the picked run and its checkpoints."),
        Binding("c", "app.view_config", "Config", id="runs.view-config",
                tooltip="Show the picked run's config."),
    ]

    def __init__(self, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.clock = clock
        self.runs: dict[str, RunSummary] = {}

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)
        self.set_interval(AGE_REFRESH_S, self.refresh_ages)

    @property
    def picked_id(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def show_runs(self, runs: list[RunSummary]) -> None:
        """Show these runs, keeping the cursor on the picked run if it is still there."""
        now = self.clock()
        if list(self.runs) == [r.id for r in runs]:
            for run in runs:
                if run != self.runs[run.id]:
                    for (key, _), cell in zip(COLUMNS, _cells(run, now), strict=True):
                        self.update_cell(run.id, key, cell, update_width=True)
        else:
            picked = self.picked_id
            self.clear()
            for run in runs:
                self.add_row(*_cells(run, now), key=run.id)
            ids = [r.id for r in runs]
            if picked in ids:
                self.move_cursor(row=ids.index(picked), animate=False)
        self.runs = {r.id: r for r in runs}
        if not runs:
            self.post_message(RunPicked(None))

    def pick(self, run_id: str) -> None:
        """Put the cursor on a run (it posts RunPicked as the cursor moves)."""
        if run_id in self.runs:
            self.move_cursor(row=list(self.runs).index(run_id), animate=False)

    def refresh_ages(self) -> None:
        now = self.clock()
        for run in self.runs.values():
            self.update_cell(run.id, "age", _cells(run, now)[-1])

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(RunPicked(event.row_key.value))
