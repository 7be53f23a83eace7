"""Shared pieces of the TUI tests: the scripted sampler, a fixed GPU reading, waiting helpers."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from nanogpt_tui.gpu_probe import GpuDevice, GpuReading

SCRIPTED_SAMPLER = Path(__file__).with_name("scripted_sampler.py")


def scripted_sampler(cps: float = 4000.0) -> list[str]:
    """The command line of a protocol-true sampler that streams canned text at `cps`."""
    return [sys.executable, str(SCRIPTED_SAMPLER), "--cps", str(cps)]


class FixedProbe:
    """A GPU probe that always reads the same: one busy H100 (for deterministic screens)."""

    reading = GpuReading(
        devices=(GpuDevice(0, "NVIDIA H100 80GB HBM3", 12 * 2**30, 80 * 2**30, 87, 61, 312.0,
                           700.0),),
        nvml_error=None, host_used=6 * 2**30, host_total=32 * 2**30, worker_rss=None,
    )

    def sample(self, worker_pid: int | None = None) -> GpuReading:
        return self.reading

    def close(self) -> None:
        pass


async def wait_for(pilot: Pilot, condition: Callable[[], object], timeout: float = 20.0,
                   what: str = "condition") -> None:
    """Let the app run until `condition()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await pilot.pause(0.05)


@pytest.fixture(autouse=True)
def _no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor makes screens differ from one frame to the next."""
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)

