"""The GPU/memory panel: NVML readings, the picked run's allocator figures, a short history."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from nanogpt_tui import format as fmt
from nanogpt_tui.gpu_probe import GpuDevice, GpuReading

HISTORY = 60  # readings, about a minute
BLOCKS = " ▁▂▃▄▅▆▇█"


def history_rows(values: Sequence[float], full: float, width: int, height: int) -> list[str]:
    """Bars of the last `width` values on a fixed scale (0 to `full`), `height` rows, top first.

    Textual's Sparkline scales between the lowest and highest value, which turns a 1 %
    wobble into a wall; memory reads better against the whole.
    """
    recent = list(values)[-width:] if width > 0 else []
    eighths = [round(max(0.0, min(v / full, 1.0)) * height * 8) if full else 0 for v in recent]
    rows = []
    for row in range(height - 1, -1, -1):
        cells = (BLOCKS[max(0, min(e - row * 8, 8))] for e in eighths)
        rows.append("".join(cells).rjust(width))
    return rows


class HistoryBars(Widget):
    """A fixed-scale bar history that fills the widget."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.values: deque[float] = deque(maxlen=HISTORY)
        self.full = 0.0
        self._drawn: list[str] = []

    def add(self, value: float, full: float) -> None:
        self.values.append(value)
        self.full = full
        if self._rows() != self._drawn:  # a steady reading redraws nothing (idle CPU)
            self.refresh()

    def _rows(self) -> list[str]:
        return history_rows(self.values, self.full, self.size.width, self.size.height)

    def render(self) -> Text:
        self._drawn = self._rows()
        return Text("\n".join(self._drawn))


def _percent(used: float, total: float) -> str:
    return f"{100 * used / total:.0f}%" if total else "—"


def _device_text(device: GpuDevice) -> Text:
    text = Text()
    text.append(f"GPU {device.index} ", style="bold")
    text.append(device.name + "\n")
    text.append(f"  memory {fmt.size(device.memory_used)} / {fmt.size(device.memory_total)}"
                f"  {_percent(device.memory_used, device.memory_total)}\n")
    util = "—" if device.utilization is None else f"{device.utilization}%"
    temp = "—" if device.temperature is None else f"{device.temperature}°C"
    power = "—" if device.power_w is None else f"{device.power_w:.0f}"
    if device.power_limit_w is not None:
        power += f"/{device.power_limit_w:.0f}"
    text.append(f"  util {util}  {temp}  {power} W\n")
    return text


def describe(reading: GpuReading, run_name: str | None, run_memory: dict[str, Any]) -> Text:
    text = Text()
    for device in reading.devices:
        text.append_text(_device_text(device))
    if not reading.devices:
        text.append("No NVIDIA GPU in use\n", style="yellow")
        text.append(f"  {reading.nvml_error}\n", style="dim")
        text.append(f"host {fmt.size(reading.host_used)} / {fmt.size(reading.host_total)}"
                    f"  {_percent(reading.host_used, reading.host_total)}\n")
    if run_name is None or not (run_memory or reading.worker_rss is not None):
        return text
    text.append(run_name + "\n", style="bold")
    if "allocated" in run_memory:
        text.append(f"  allocated {fmt.size(run_memory['allocated'])}"
                    f"  peak {fmt.size(run_memory.get('peak'))}\n"
                    f"  reserved {fmt.size(run_memory.get('reserved'))}\n")
    if reading.worker_rss is not None:
        text.append(f"  RSS {fmt.size(reading.worker_rss)} (worker now)\n")
    elif "rss" in run_memory:
        text.append(f"  RSS {fmt.size(run_memory['rss'])} (last reported)\n")
    return text


class GpuPanel(Vertical, can_focus=True):
    """Device memory, utilisation, temperature and power, plus the picked run's memory."""

    HELP = """
## GPU / memory

From NVML about once a second: each GPU's memory used and total, utilisation, temperature
and power. Below, the picked run's own figures from its status file: the CUDA allocator's
allocated, reserved and peak bytes, and the worker's resident memory (RSS).

NVML's "used" includes the CUDA context and the caching allocator's reserve, so it is above
the run's reserved figure, which is above allocated.

Without an NVIDIA driver the panel says so and shows host memory instead.
The bars are device memory (host memory without a GPU) over the last minute, on a scale
from empty to full.
"""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.reading: GpuReading | None = None
        self.run_name: str | None = None
        self.run_memory: dict[str, Any] = {}
        self._shown: Text | None = None
        self.history_label = ""

    def compose(self) -> ComposeResult:
        yield Static("Reading GPUs…", id="gpu-text")
        yield Static(id="gpu-history-label")
        yield HistoryBars(id="gpu-history")

    def show_reading(self, reading: GpuReading) -> None:
        self.reading = reading
        if reading.devices:
            used = sum(d.memory_used for d in reading.devices)
            full = sum(d.memory_total for d in reading.devices)
            label = "GPU memory, last minute"
        else:
            used, full, label = reading.host_used, reading.host_total, "host memory, last minute"
        self.query_one(HistoryBars).add(used, full)
        if label != self.history_label:
            self.history_label = label
            self.query_one("#gpu-history-label", Static).update(Text(label, style="dim"))
        self._redraw()

    def show_run(self, run_name: str | None, status: dict[str, Any]) -> None:
        memory = status.get("memory")
        self.run_name = run_name
        self.run_memory = memory if isinstance(memory, dict) else {}
        self._redraw()

    def _redraw(self) -> None:
        if self.reading is None:
            return
        text = describe(self.reading, self.run_name, self.run_memory)
        if text != self._shown:  # Static.update re-lays-out the screen: only on a change
            self._shown = text
            self.query_one("#gpu-text", Static).update(text)
