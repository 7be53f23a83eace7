"""F1: what the focused pane shows and which keys it takes."""

from __future__ import annotations

from textwrap import dedent
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Markdown

GENERAL_HELP = """
## Everywhere

- `tab` / `shift+tab` move between panes; `F2`–`F5` jump to runs, chart, GPU, generation
- `ctrl+n` new run · `ctrl+p` command palette (every action, themes, keys)
- `F1` this help · `ctrl+q` quit: training runs keep going in the background
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "dismiss", "Close", id="help.close"),
    ]

    def __init__(self, pane_help: str) -> None:
        super().__init__()
        self.pane_help = pane_help

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            with VerticalScroll():
                yield Markdown(dedent(self.pane_help).strip() + "\n" + GENERAL_HELP)
            yield Label("esc closes", classes="dialog-hint")
