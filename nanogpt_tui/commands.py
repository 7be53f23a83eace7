"""The command palette's own commands: every app action, and "open run" for each run."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from nanogpt_tui.app import NanoGPTApp

# (title, help, action on the App)
ACTIONS = (
    ("New run", "Open the new-run form", "new_run"),
    ("Stop run", "Ask the picked run to checkpoint and stop", "stop_run"),
    ("Resume run", "Continue the picked run from last.pt", "resume_run"),
    ("Delete run", "Delete the picked run and its files", "delete_run"),
    ("View config", "Show the picked run's config", "view_config"),
    ("Toggle log-y", "Switch the loss chart's y axis between linear and log", "toggle_log_y"),
    ("Generate", "Sample from the picked run with the prompt as it is", "generate"),
    ("Stop generating", "Stop the sample that is streaming", "stop_sample"),
    ("Save sample", "Save the generated text into the run's samples/", "save_sample"),
    ("Focus runs", "Go to the run history", "focus_pane('runs')"),
    ("Focus chart", "Go to the loss chart", "focus_pane('chart')"),
    ("Focus GPU", "Go to the GPU/memory panel", "focus_pane('gpu')"),
    ("Focus generation", "Go to the prompt", "focus_pane('generation')"),
    ("Help", "Help for the focused pane", "help"),
)


class AppCommands(Provider):
    @property
    def _app(self) -> NanoGPTApp:
        return self.app  # type: ignore[return-value]

    def _commands(self) -> Iterator[tuple[str, str, str]]:
        for title, help_text, action in ACTIONS:
            if self._app.action_enabled(action):
                yield title, help_text, action
        for run in self._app.runs.values():
            yield f"Open run {run.name}", f"{run.state} · {run.id}", f"pick_run({run.id!r})"

    async def discover(self) -> Hits:
        for title, help_text, action in self._commands():
            if not title.startswith("Open run"):
                yield DiscoveryHit(title, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self.app.run_action, action),
                          help=help_text)
