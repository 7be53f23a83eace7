"""The new-run form: a preset, the main hyperparameters, a data file and a name.

Values are checked by the engine's config schema (no torch) and the data file by
`check_corpus` in a thread (it reads the file); the first problem shows on one line under the
form. Starting creates the run directory and launches its detached worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static

from engine import config as config_mod
from engine.corpus import check_corpus
from engine.errors import UserError
from engine.launch import launch
from engine.runstore import RunStore
from nanogpt_tui.messages import RunActionFailed, RunLaunched

FORM_KEYS = ("model", "optimizer", "n_layer", "n_head", "n_embd", "block_size", "dropout",
             "batch_size", "max_iters", "learning_rate", "eval_interval", "device")


class NewRunScreen(ModalScreen[str | None]):
    """Dismissed with the new run's id, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="new-run.cancel"),
        Binding("ctrl+s", "submit", "Start", id="new-run.start",
                tooltip="Check the values and start the run."),
    ]

    def __init__(self, store: RunStore, preset: str = config_mod.DEFAULT_PRESET) -> None:
        super().__init__()
        self.store = store
        self.preset = preset

    def compose(self) -> ComposeResult:
        fields = config_mod.FIELDS
        with Vertical(id="new-run-dialog", classes="dialog"):
            yield Label("New run", classes="dialog-title")
            with Grid(id="new-run-form"):
                yield Label("preset")
                yield Select([(name, name) for name in config_mod.PRESETS], value=self.preset,
                             allow_blank=False, compact=True, id="preset")
                yield Label("name")
                yield Input(placeholder="(the preset's name)", id="name", compact=True)
                yield Label("data")
                yield Input(placeholder="empty: Tiny Shakespeare", id="data", compact=True,
                            classes="wide", tooltip=fields["data"].metadata["help"])
                for key in FORM_KEYS:
                    meta = fields[key].metadata
                    yield Label(key)
                    if meta["choices"]:
                        yield Select([(c, c) for c in meta["choices"]], allow_blank=False,
                                     compact=True, id=key, tooltip=meta["help"])
                    else:
                        yield Input(id=key, compact=True, tooltip=meta["help"])
            yield Static(id="new-run-hint")
            yield Static(id="new-run-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Start (ctrl+s)", variant="primary", id="new-run-start")
                yield Button("Cancel (esc)", id="new-run-cancel")

    def on_mount(self) -> None:
        self._fill(self.preset)
        self.query_one("#preset", Select).focus()

    def _fill(self, preset: str) -> None:
        cfg = config_mod.PRESETS[preset].config()
        for key in FORM_KEYS:
            widget = self.query_one(f"#{key}")
            if isinstance(widget, Select):
                widget.value = getattr(cfg, key)
            elif isinstance(widget, Input):
                widget.value = str(getattr(cfg, key))
        self.query_one("#new-run-hint", Static).update(
            f"{preset}: {config_mod.PRESETS[preset].description}")

    @on(Select.Changed, "#preset")
    def _preset_changed(self, event: Select.Changed) -> None:
        # The Select also reports its first value after mount; refilling then would wipe
        # whatever a quick typist entered meanwhile.
        if event.value != self.preset:
            self.preset = str(event.value)
            self._fill(self.preset)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        key = event.widget.id
        if key == "name":
            help_text = "a name for the run; empty: the preset's name"
        elif key in config_mod.FIELDS:
            help_text = config_mod.FIELDS[key].metadata["help"]
        else:
            return
        self.query_one("#new-run-hint", Static).update(f"{key}: {help_text}")

    def _error(self, message: str, widget: Widget | None = None) -> None:
        self.query_one("#new-run-error", Static).update(message)
        if widget is not None:
            widget.focus()

    def read_config(self) -> tuple[config_mod.TrainConfig, str] | None:
        """The validated config and name, or None after showing why not."""
        values = dict(config_mod.PRESETS[self.preset].overrides)
        for key in FORM_KEYS:
            widget = self.query_one(f"#{key}")
            text = str(widget.value) if isinstance(widget, (Input, Select)) else ""
            try:
                values[key] = config_mod.parse_value(key, text)
            except UserError as exc:
                self._error(str(exc), widget)
                return None
        data = self.query_one("#data", Input).value.strip()
        if data:
            values["data"] = str(Path(data).expanduser().resolve())
        try:
            cfg = config_mod.from_dict(values).validate()
        except UserError as exc:
            self._error(str(exc))
            return None
        return cfg, self.query_one("#name", Input).value.strip()

    def action_submit(self) -> None:
        start = self.query_one("#new-run-start", Button)
        if start.disabled:
            return
        checked = self.read_config()
        if checked is None:
            return
        self._error("")
        start.disabled = True
        self.query_one("#new-run-hint", Static).update("Checking the data and starting…")
        self._launch(*checked, self.preset)

    @work(thread=True, exclusive=True, exit_on_error=False, group="new-run",
          description="Starting a new run")
    def _launch(self, cfg: config_mod.TrainConfig, name: str, preset: str) -> None:
        try:
            check_corpus(cfg.data, cfg.block_size)
            run = self.store.create(cfg, name=name, preset=preset)
            pid = launch(run)
        except UserError as exc:
            self.post_message(RunActionFailed(str(exc)))
            return
        except OSError as exc:
            self.post_message(RunActionFailed(f"Could not start the worker ({exc})."))
            return
        self.post_message(RunLaunched(run.id, pid, resumed=False))

    def on_run_action_failed(self, message: RunActionFailed) -> None:
        message.stop()
        self.query_one("#new-run-start", Button).disabled = False
        self.query_one("#new-run-hint", Static).update("")
        self._error(message.message)

    def on_run_launched(self, message: RunLaunched) -> None:
        # Not stopped: the App picks the new run when the message reaches it.
        self.dismiss(message.run_id)

    @on(Input.Submitted)
    def _input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "new-run-start":
            self.action_submit()
        else:
            self.dismiss(None)
