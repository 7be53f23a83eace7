"""A run's config.toml, key by key with what each key means."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from engine.config import TrainConfig


class ConfigScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,c,q", "dismiss", "Close", id="config.close"),
    ]

    def __init__(self, title: str, config: TrainConfig) -> None:
        super().__init__()
        self.title_text = title
        self.config = config

    def compose(self) -> ComposeResult:
        with Vertical(id="config-dialog", classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield DataTable(id="config-table", cursor_type="row", zebra_stripes=True)
            yield Label("esc closes", classes="dialog-hint")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("key", "value", "group", "meaning")
        for field in dataclasses.fields(self.config):
            value = getattr(self.config, field.name)
            shown = repr(value) if isinstance(value, str) else str(value)
            table.add_row(field.name, Text(shown, style="bold"), field.metadata["group"],
                          field.metadata["help"], key=field.name)
        table.focus()
