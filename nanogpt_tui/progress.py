"""The progress line of `nanogpt-tui train` in the foreground."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from nanogpt_tui import format as fmt


class TrainingProgress:
    """A live line (step, loss, val, tokens/s, ETA) fed with metric rows; eval rows also scroll.

    Only a view: when the terminal goes away (SSH dropped) writing to it fails, and from then
    on the progress stays silent while training checkpoints and stops on the hangup.
    """

    def __init__(self, run_id: str, max_iters: int, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            auto_refresh=False,  # drawn on each row, from this thread, where errors are caught
        )
        self.terminal_gone = False
        self.task = self.progress.add_task(run_id, total=max_iters, stats="starting")
        self.loss: float | None = None
        self.val: float | None = None
        self.tokens_per_s: float | None = None

    def __enter__(self) -> TrainingProgress:
        self._draw(self.progress.start)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._draw(self.progress.stop)

    def _draw(self, action: Callable[[], None]) -> None:
        if self.terminal_gone:
            return
        try:
            action()
        except OSError:
            self.terminal_gone = True

    def on_row(self, row: dict[str, Any]) -> None:
        self._draw(lambda: self._show(row))

    def _show(self, row: dict[str, Any]) -> None:
        kind = row.get("kind")
        if kind == "train":
            self.loss, self.tokens_per_s = row["loss"], row["tokens_per_s"]
        elif kind == "eval":
            self.val = row["val_loss"]
            self.progress.console.print(
                f"step {row['step']}: train {fmt.loss(row['train_loss'])}, "
                f"val {fmt.loss(row['val_loss'])} (best {fmt.loss(row['best_val'])})"
            )
        elif kind == "resume":
            # A fresh speed estimate: the steps before the resume were not done now.
            self.progress.reset(self.task, completed=row["step"])
            self.progress.console.print(f"resumed at step {row['step']}")
        stats = (f"loss {fmt.loss(self.loss)}  val {fmt.loss(self.val)}  "
                 f"{fmt.si(self.tokens_per_s)} tok/s")
        self.progress.update(self.task, completed=row["step"], stats=stats)
        self.progress.refresh()
