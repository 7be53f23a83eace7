"""The loss chart: train and val loss against step for the picked run, live while it trains.

All points are kept; each replot draws at most a min and a max per pixel column, so a spike
survives however long the run. plotext rebuilds the whole figure on every render (≈10 ms at a
few hundred points, far more at tens of thousands), so the chart replots at most twice a
second and only when new rows arrived.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.reactive import reactive
from textual_plotext import PlotextPlot

REPLOT_INTERVAL_S = 0.5
# Columns that plotext spends on the y tick labels and the frame, not on data.
AXIS_COLUMNS = 10
X_TICK_SPACING = 14


def min_max_downsample(
    xs: Sequence[float], ys: Sequence[float], columns: int
) -> tuple[list[float], list[float]]:
    """At most two points per column of equal x range: its lowest and its highest, in order.

    `xs` must be ascending. Fewer than two points per column come back unchanged.
    """
    if columns < 1 or len(xs) <= 2 * columns:
        return list(xs), list(ys)
    lo, hi = xs[0], xs[-1]
    span = (hi - lo) or 1.0
    out_x: list[float] = []
    out_y: list[float] = []
    start = 0
    while start < len(xs):
        column = min(int((xs[start] - lo) / span * columns), columns - 1)
        end = start
        while end < len(xs) and min(int((xs[end] - lo) / span * columns), columns - 1) == column:
            end += 1
        lowest = min(range(start, end), key=ys.__getitem__)
        highest = max(range(start, end), key=ys.__getitem__)
        for i in sorted({lowest, highest}):
            out_x.append(xs[i])
            out_y.append(ys[i])
        start = end
    return out_x, out_y


class LossSeries:
    """Every loss point of one run, by kind of row."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.train: tuple[list[float], list[float]] = ([], [])
        self.eval_train: tuple[list[float], list[float]] = ([], [])
        self.val: tuple[list[float], list[float]] = ([], [])

    def add(self, rows: Sequence[dict[str, Any]]) -> None:
        for row in rows:
            step = row["step"]
            if row.get("kind") == "train" and _finite(row.get("loss")):
                self.train[0].append(step)
                self.train[1].append(row["loss"])
            elif row.get("kind") == "eval" and _finite(row.get("val_loss")):
                self.val[0].append(step)
                self.val[1].append(row["val_loss"])
                if _finite(row.get("train_loss")):
                    self.eval_train[0].append(step)
                    self.eval_train[1].append(row["train_loss"])

    @property
    def empty(self) -> bool:
        return not (self.train[0] or self.val[0])

    @property
    def best_val(self) -> tuple[float, float] | None:
        """(step, val loss) of the lowest val loss."""
        steps, losses = self.val
        if not losses:
            return None
        i = min(range(len(losses)), key=losses.__getitem__)
        return steps[i], losses[i]


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _ticks(lo: float, hi: float, count: int) -> list[int]:
    """Whole-number step ticks: a step is never 247.5."""
    if hi <= lo:
        return [round(lo)]
    return sorted({round(lo + (hi - lo) * i / (count - 1)) for i in range(count)})


class LossChart(PlotextPlot, can_focus=True):
    """Train and val loss of the picked run; `l` switches the y axis to log scale."""

    HELP = """
## Loss chart

Train loss of every logged step, and train and val loss of every evaluation, for the run
picked in the run history. It follows a training run live.

- `l`: log-scale y axis, to tell apart small gains late in a run.
- The red marker is the best val loss so far: the weights in the run's `best.pt`.

Long runs are drawn with the lowest and highest point of each column, so spikes stay visible.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "toggle_log_y", "Log y", id="toggle-log-y",
                tooltip="Switch the y axis between linear and log scale."),
    ]

    log_y: reactive[bool] = reactive(False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.series = LossSeries()
        self.placeholder = "No run picked."
        self._dirty = False

    def on_mount(self) -> None:
        super().on_mount()
        self._replot_timer = self.set_interval(REPLOT_INTERVAL_S, self._replot, pause=True)

    def show_rows(self, rows: Sequence[dict[str, Any]], reset: bool) -> None:
        """Add new metric rows; `reset` replaces what is drawn (another run, or a resume)."""
        if reset:
            self.series.clear()
            self.series.add(rows)
            self.placeholder = "No metrics yet: the run has not logged a step."
            self.refresh()  # the user just picked a run: draw now
            return
        self.series.add(rows)
        self._dirty = True
        self._replot_timer.resume()

    def show_nothing(self, placeholder: str) -> None:
        self.series.clear()
        self.placeholder = placeholder
        self.refresh()

    def _replot(self) -> None:
        if self._dirty:
            self._dirty = False
            self.refresh()
        else:
            self._replot_timer.pause()

    def watch_log_y(self) -> None:
        self.refresh()

    def action_toggle_log_y(self) -> None:
        self.log_y = not self.log_y

    def _color(self, variable: str) -> tuple[int, int, int]:
        return Color.parse(self.app.theme_variables[variable]).rgb

    def render(self) -> Text:
        if self.series.empty:
            return Text(self.placeholder, style="dim", justify="center")
        plt = self.plt
        plt.clear_figure()
        columns = max(self.size.width - AXIS_COLUMNS, 1)
        xs_all = self.series.train[0] + self.series.val[0]
        lines = (
            (self.series.train, "train", "primary"),
            (self.series.eval_train, "train (eval)", "success"),
            (self.series.val, "val", "warning"),
        )
        for (xs, ys), label, color in lines:
            if xs:
                px, py = min_max_downsample(xs, ys, columns)
                plt.plot(px, py, label=label, color=self._color(color), marker="braille")
        best = self.series.best_val
        if best is not None:
            plt.scatter([best[0]], [best[1]], label=f"best val {best[1]:.4f}",
                        color=self._color("error"), marker="x")
        plt.xticks(_ticks(min(xs_all), max(xs_all), max(2, columns // X_TICK_SPACING)))
        plt.yscale("log" if self.log_y else "linear")
        plt.xlabel("step" + ("   (log y)" if self.log_y else ""))
        return super().render()
