"""GPU probe without a driver (this machine has none), and the panel's fixed-scale history."""

from __future__ import annotations

import os

from nanogpt_tui.gpu_panel import history_rows
from nanogpt_tui.gpu_probe import GpuProbe, process_tree_rss


def test_without_a_driver_the_reading_says_why_and_has_host_memory() -> None:
    probe = GpuProbe()
    try:
        reading = probe.sample(os.getpid())
    finally:
        probe.close()
    if reading.devices:  # a GPU box: the figures are there instead
        assert reading.devices[0].memory_total > 0
        return
    assert reading.nvml_error
    assert 0 < reading.host_used < reading.host_total
    assert reading.worker_rss and reading.worker_rss > 10 * 2**20


def test_rss_of_a_gone_process_is_none() -> None:
    assert process_tree_rss(None) is None
    assert process_tree_rss(2**22 + 12345) is None


def test_history_bars_are_on_a_fixed_scale() -> None:
    rows = history_rows([0, 50, 100], full=100, width=4, height=2)
    assert rows == ["   █", "  ██"]
    # A 1 % wobble stays a 1 % wobble.
    assert history_rows([50, 51], full=100, width=2, height=1) == ["▄▄"]
