"""The generation pane: a prompt, sampling controls, and the text streaming back from the run."""

from __future__ import annotations

import math
import random
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Select, Static

from engine.runstore import RunDir, RunSummary
from engine.samples import save_sample
from nanogpt_tui import format as fmt
from nanogpt_tui.messages import SampleFailed, SampleFinished, SamplerExited, SamplerLoaded
from nanogpt_tui.sampler_client import SamplerClient, SampleRequest
from nanogpt_tui.stream_log import StreamLog

DEFAULT_TEMPERATURE = "0.8"
DEFAULT_CHARS = "500"
MAX_CHARS = 100_000


class BadControl(ValueError):
    """A sampling control holds a value the sampler cannot use; the message says which."""


class GenerationPane(Vertical):
    HELP = """
## Generation

Type a prompt and press `Enter`: the picked run's model continues it, character by
character. Training can go on meanwhile; the sampler reads the run's checkpoint file.

- **temp**: temperature; lower is safer and more repetitive, higher is wilder.
- **top-k**: sample only among the k likeliest characters; empty means all of them.
- **chars**: how many characters to generate.
- **best.pt / last.pt**: the lowest-val-loss weights, or the latest.
- `Esc` stops generating · `ctrl+s` saves prompt and text into the run's `samples/`.

Scroll up to read while text streams: the pane keeps your place. The first generation
starts the sampler process, which loads torch (a few seconds).
A prompt with characters the model never saw is refused with a message.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "stop_sample", "Stop", id="generation.stop",
                tooltip="Stop generating; the text so far stays."),
        Binding("ctrl+s", "save_sample", "Save", id="generation.save",
                tooltip="Save the prompt and generated text into the run's samples/."),
    ]

    def __init__(self, client: SamplerClient, *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.client = client
        self.run: RunSummary | None = None
        self.request: SampleRequest | None = None  # the request whose text is shown
        self.request_id: str | None = None  # set while it streams
        self.finished: dict | None = None  # its `done` event
        self.loaded_steps: dict[tuple[str, str], int] = {}  # (run dir, checkpoint) -> step
        self.output = StreamLog(id="sample-output")

    def compose(self) -> ComposeResult:
        yield Static(id="gen-source")
        with Horizontal(id="gen-controls"):
            yield Label("temp")
            yield Input(DEFAULT_TEMPERATURE, id="temperature", type="number", compact=True,
                        tooltip="Temperature: below 1 sharpens, above 1 flattens.")
            yield Label("top-k")
            yield Input("", placeholder="all", id="top-k", type="integer", compact=True,
                        tooltip="Sample among the k likeliest characters; empty: all.")
            yield Label("chars")
            yield Input(DEFAULT_CHARS, id="chars", type="integer", compact=True,
                        tooltip="How many characters to generate.")
            yield Select([("best.pt", "best"), ("last.pt", "last")], value="best",
                         allow_blank=False, compact=True, id="checkpoint",
                         tooltip="best.pt: lowest val loss; last.pt: the latest weights.")
        yield Input(placeholder="Prompt, then Enter (e.g. ROMEO:)", id="prompt")
        yield self.output
        yield Static(id="gen-status")

    def on_mount(self) -> None:
        self._show_source()
        self._say("Enter generates · esc stops · ctrl+s saves the text", "dim")

    @property
    def streaming(self) -> bool:
        return self.request_id is not None

    def set_run(self, run: RunSummary | None) -> None:
        """The run that the next generation samples from."""
        self.run = run
        self._show_source()

    def _show_source(self) -> None:
        text = Text("from ", style="dim")
        text.append(self.run.name if self.run else "no run", style="bold")
        self.query_one("#gen-source", Static).update(text)

    def _say(self, message: str, style: str = "") -> None:
        self.query_one("#gen-status", Static).update(Text(message, style=style))

    # --- starting and stopping -----------------------------------------------------------------

    def _read_controls(self, run: RunSummary) -> SampleRequest:
        temperature = self.query_one("#temperature", Input).value.strip()
        top_k = self.query_one("#top-k", Input).value.strip()
        chars = self.query_one("#chars", Input).value.strip()
        try:
            t = float(temperature)
        except ValueError:
            raise BadControl(f"temp must be a number; got {temperature!r}.") from None
        if not (math.isfinite(t) and t > 0):
            raise BadControl(f"temp must be above 0; got {temperature}.")
        if top_k and not (top_k.isdigit() and int(top_k) > 0):
            raise BadControl(f"top-k must be a whole number above 0, or empty; got {top_k!r}.")
        if not (chars.isdigit() and 0 < int(chars) <= MAX_CHARS):
            raise BadControl(f"chars must be a whole number from 1 to {MAX_CHARS}.")
        prompt = self.query_one("#prompt", Input).value
        return SampleRequest(
            run_dir=run.path.resolve(), prompt=prompt, chars=int(chars), temperature=t,
            top_k=int(top_k) if top_k else None,
            checkpoint=str(self.query_one("#checkpoint", Select).value),
            seed=random.randrange(2**31),
        )

    def generate(self) -> None:
        """Sample from the picked run with the prompt and controls as they are."""
        if self.run is None:
            self._say("Pick a run in the run history first.", "red")
            return
        try:
            request = self._read_controls(self.run)
        except BadControl as exc:
            self._say(str(exc), "red")
            return
        checkpoint = RunDir(self.run.path).checkpoint_path(request.checkpoint)
        if not checkpoint.exists():
            self._say(f"{self.run.name} has no {checkpoint.name} yet; it is written at the "
                      "first evaluation.", "red")
            return
        if self.streaming:
            self.client.stop()
        cold = not self.client.running
        try:
            self.request_id = self.client.sample(request)
        except OSError as exc:
            self._say(f"Cannot start the sampler ({exc}).", "red")
            return
        self.request, self.finished = request, None
        self.output.begin(self.request_id, request.prompt)
        self._say("Starting the sampler (torch loads in a few seconds)…" if cold
                  else "Generating · esc stops", "dim")
        self.refresh_bindings()

    def _finish(self) -> None:
        self.output.end()
        self.request_id = None
        self.refresh_bindings()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.generate()

    def action_stop_sample(self) -> None:
        self.client.stop()

    def action_save_sample(self) -> None:
        request, finished = self.request, self.finished or {}
        assert request is not None
        meta = {"checkpoint": request.checkpoint,
                "step": self.loaded_steps.get((str(request.run_dir), request.checkpoint)),
                "prompt": request.prompt, "chars": finished.get("chars"),
                "temperature": request.temperature, "top_k": request.top_k,
                "seed": finished.get("seed", request.seed), "run": request.run_dir.name}
        try:
            path = save_sample(request.run_dir, self.output.text, meta)
        except OSError as exc:
            self._say(f"Could not save the sample ({exc.strerror or exc}).", "red")
            return
        self._say(f"Saved to {path.parent.name}/{path.name} in {request.run_dir.name}", "green")
        self.notify(f"Sample saved to {path.name}", title="Saved")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop_sample":
            return True if self.streaming else None
        if action == "save_sample":
            return True if self.request and not self.streaming and self.output.text else None
        return True

    # --- events from the sampler ---------------------------------------------------------------

    def on_sampler_loaded(self, message: SamplerLoaded) -> None:
        event = message.event
        if event.get("id") != self.request_id or self.request is None:
            return
        # The sampler reports a checkpoint's step only when it (re)loads it: remember it.
        key = (str(self.request.run_dir), self.request.checkpoint)
        self.loaded_steps[key] = event.get("step")
        self._say(f"Generating from {event.get('checkpoint')}.pt, step {event.get('step')} "
                  f"({fmt.si(event.get('params'))} params, loaded in "
                  f"{event.get('load_s', 0):.1f} s) · esc stops", "dim")

    def on_sample_finished(self, message: SampleFinished) -> None:
        event = message.event
        if event.get("id") != self.request_id:
            return
        self.finished = event
        self._finish()
        first = event.get("first_char_s")
        self._say(
            f"{'Stopped after' if event.get('stopped') else 'Done:'} {event.get('chars')} chars"
            f" in {event.get('seconds', 0):.1f} s, {event.get('chars_per_s', 0):.0f} chars/s"
            + (f", first after {first * 1000:.0f} ms" if first is not None else "")
            + f" · seed {event.get('seed')} · ctrl+s saves", "green")

    def on_sample_failed(self, message: SampleFailed) -> None:
        if message.request_id not in (self.request_id, None):
            return
        if self.streaming:
            self._finish()
        self._say(message.message, "bold red")

    def on_sampler_exited(self, message: SamplerExited) -> None:
        if self.streaming:
            self._finish()
        self._say(f"The sampler ended (exit code {message.code}); its log is {message.log}.",
                  "bold red")
