"""Two lines above the chart: what the picked run is and how it is doing."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from engine.runstore import RunSummary
from nanogpt_tui import format as fmt
from nanogpt_tui.run_list import STATE_STYLES


def describe(run: RunSummary, status: dict[str, Any]) -> Text:
    text = Text()
    text.append(run.name, style="bold")
    text.append("  ")
    text.append(run.state, style=STATE_STYLES.get(run.state, ""))
    text.append(f"  step {run.step}/{run.max_iters}  {fmt.si(run.params)} params\n")
    text.append(f"best val {fmt.loss(run.best_val)}  val {fmt.loss(status.get('val_loss'))}"
                f"  loss {fmt.loss(status.get('loss'))}  {fmt.si(run.tokens_per_s)} tok/s")
    if status.get("device"):
        text.append(f"  {status['device']}")
    if run.reason:
        text.append("\n")
        text.append(run.reason, style="red" if run.state in ("failed", "error") else "yellow")
    return text


class RunDetails(Static):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: Text | None = None

    def show(self, run: RunSummary | None, status: dict[str, Any]) -> None:
        text = describe(run, status) if run else Text("No runs yet: ctrl+n starts one.",
                                                      style="dim")
        if text != self._shown:  # Static.update re-lays-out the screen: only on a change
            self._shown = text
            self.update(text)
