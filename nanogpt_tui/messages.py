"""Messages between the services' thread workers, the panes and the App, named for what happened.

`can_replace` is only on "latest value wins" messages: a newer one drops an older one still
waiting in the queue. Metric deltas and sampler events are never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from engine.runstore import RunSummary
from nanogpt_tui.gpu_probe import GpuReading
from nanogpt_tui.run_watcher import MetricsDelta


@dataclass
class RunsScanned(Message):
    """The run list changed: every run, newest first."""

    runs: list[RunSummary]

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunsScanned)


@dataclass
class RunStatusRead(Message):
    """The picked run's status.json changed."""

    run_id: str
    status: dict[str, Any]

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunStatusRead)


@dataclass
class MetricsUpdated(Message):
    """New metric rows of the picked run (or all of them, when `delta.reset`)."""

    delta: MetricsDelta


@dataclass
class GpuSampled(Message):
    reading: GpuReading

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, GpuSampled)


@dataclass
class RunPicked(Message):
    """The user moved to another run in the history (None: the list is empty)."""

    run_id: str | None


@dataclass
class RunLaunched(Message):
    """A worker was started for a new or resumed run."""

    run_id: str
    pid: int
    resumed: bool


@dataclass
class RunDeleted(Message):
    run_id: str


@dataclass
class RunActionFailed(Message):
    """Starting, stopping, resuming or deleting a run failed; `message` is one line."""

    message: str


@dataclass
class SamplerLoaded(Message):
    """The sampler loaded a checkpoint: `event` has run_dir, checkpoint, step, params, load_s."""

    event: dict[str, Any]


@dataclass
class SampleFinished(Message):
    """A sample ended (all its characters, or stopped): chars, seconds, chars_per_s, seed..."""

    event: dict[str, Any]


@dataclass
class SampleFailed(Message):
    """The sampler refused or failed a request, e.g. a prompt with unknown characters."""

    request_id: str | None
    message: str


@dataclass
class SamplerExited(Message):
    """The sampler child ended on its own; its stderr is in `log`."""

    code: int
    log: str
