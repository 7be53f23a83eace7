"""The sampler process: `python -m engine.sampler`, JSON lines in on stdin and out on stdout.

It lives as long as the TUI session and keeps the last run's model loaded, so the next request
starts at once. Requests (one JSON object per line):

    {"op": "sample", "id": "r1", "run_dir": "/abs/run", "checkpoint": "best", "prompt": "ROMEO:",
     "chars": 500, "temperature": 0.8, "top_k": null, "seed": 1337}
    {"op": "stop"}     stops the sample in progress, if any
    {"op": "quit"}     (end of input quits too)

Only `op` and `run_dir` are required: a missing checkpoint means best (last while there is no
best.pt yet); chars 500, temperature 0.8, top_k off, seed random (reported in `done`). An
optional `keep` sets the window policy (see engine.sample). Events (one JSON object per line):

    {"event": "ready"}                                   once, after torch is imported
    {"event": "loaded", "id", "run_dir", "checkpoint", "step", "params", "device", "load_s"}
    {"event": "text", "id", "text"}                      characters as they are produced
    {"event": "done", "id", "chars", "seconds", "chars_per_s", "first_char_s", "stopped", "seed"}
    {"event": "error", "id", "message"}                  one line; the process serves on

Every sample request ends with exactly one `done` or `error` event. `loaded` comes only when
the request needed a (re)load: the last model stays loaded, keyed by the checkpoint file's path,
mtime and size, so a retrained best.pt is picked up.

Requests are handled in order; `stop` and `quit` act between two characters of a sample in
progress, while the end of input quits after the requests before it are served. SIGINT is
ignored (Ctrl-C belongs to the TUI). Characters produced within CHUNK_S of each other go out
as one `text` event, so a fast model sends about 60 events a second and a slow one sends each
character as it comes.

stdout carries protocol lines only: the real stdout is kept on a private descriptor and fd 1
points at stderr, so whatever torch, CUDA or a stray print writes goes to stderr.
"""

from __future__ import annotations

import json
import math
import os
import queue
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from engine.errors import UserError

if TYPE_CHECKING:
    from engine.sample import LoadedRun

CHUNK_S = 0.015
DEFAULT_CHARS = 500
DEFAULT_TEMPERATURE = 0.8
OPS = ("sample", "stop", "quit")
SAMPLE_FIELDS = {"op", "id", "run_dir", "checkpoint", "prompt", "chars", "temperature", "top_k",
                 "seed", "keep"}


class BadRequest(Exception):
    """A request the sampler cannot serve; its message becomes an error event."""

    def __init__(self, message: str, id: Any = None) -> None:
        super().__init__(message)
        self.id = id


@dataclass
class SampleRequest:
    id: Any
    run_dir: Path
    checkpoint: str | None = None
    prompt: str = ""
    chars: int = DEFAULT_CHARS
    temperature: float = DEFAULT_TEMPERATURE
    top_k: int | None = None
    seed: int | None = None
    keep: int | None = None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return _is_int(value) and value >= 0


def _is_temperature(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value) and value >= 0


def _field(obj: dict[str, Any], name: str, check: Callable[[Any], bool], expected: str,
           default: Any = None) -> Any:
    value = obj.get(name)
    if value is None:
        return default
    if not check(value):
        raise BadRequest(f"{name} must be {expected}; got {json.dumps(value)}", obj.get("id"))
    return value


def parse_request(line: bytes | str) -> SampleRequest | str:
    """A sample request, or the op "stop" or "quit". Raises BadRequest."""
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"not a JSON request ({exc})") from None
    if not isinstance(obj, dict):
        raise BadRequest("a request must be a JSON object with an op")
    op = obj.get("op")
    if op not in OPS:
        raise BadRequest(f"unknown op {json.dumps(op)}; use sample, stop or quit", obj.get("id"))
    if op != "sample":
        return op
    unknown = sorted(set(obj) - SAMPLE_FIELDS)
    if unknown:
        raise BadRequest(f"unknown field {', '.join(unknown)} in a sample request", obj.get("id"))
    run_dir = _field(obj, "run_dir", lambda v: isinstance(v, str) and v, "a run directory path")
    if run_dir is None:
        raise BadRequest("a sample request needs run_dir", obj.get("id"))
    return SampleRequest(
        id=obj.get("id"),
        run_dir=Path(run_dir),
        checkpoint=_field(obj, "checkpoint", lambda v: v in ("best", "last"), "best or last"),
        prompt=_field(obj, "prompt", lambda v: isinstance(v, str), "a string", ""),
        chars=_field(obj, "chars", _is_count, "a whole number >= 0", DEFAULT_CHARS),
        temperature=float(_field(obj, "temperature", _is_temperature, "a number >= 0",
                                 DEFAULT_TEMPERATURE)),
        top_k=_field(obj, "top_k", _is_count, "a whole number >= 0 or null"),
        seed=_field(obj, "seed", _is_count, "a whole number >= 0 or null"),
        keep=_field(obj, "keep", _is_count, "a whole number >= 0 or null"),
    )


class EventWriter:
    """Protocol lines on their own file descriptor, one JSON object per line, flushed each."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def send(self, event: str, **fields: Any) -> None:
        self.stream.write(json.dumps({"event": event, **fields}) + "\n")
        self.stream.flush()


def read_lines(stream: IO[bytes], into: queue.Queue) -> None:
    """Feed stdin's lines into a queue (None at end of input), so a stop is seen mid-sample."""
    for line in stream:
        if line.strip():
            into.put(line)
    into.put(None)


class Sampler:
    """Serves requests from a queue of raw lines until quit or end of input."""

    def __init__(self, events: EventWriter, lines: queue.Queue) -> None:
        self.events = events
        self.lines = lines
        self.pending: deque[bytes | None] = deque()  # lines that arrived during a sample
        self.quitting = False
        self.loaded: LoadedRun | None = None  # the model of the last request, kept for the next
        self.loaded_key: tuple | None = None

    def serve(self) -> None:
        while not self.quitting:
            line = self.pending.popleft() if self.pending else self.lines.get()
            self.handle(line)

    def handle(self, line: bytes | None) -> None:
        if line is None:
            self.quitting = True
            return
        request_id = None
        try:
            request = parse_request(line)
            if request == "quit":
                self.quitting = True
            elif isinstance(request, SampleRequest):
                request_id = request.id
                self.sample(request)
            # A stop with no sample in progress has nothing to stop.
        except BrokenPipeError:
            raise
        except BadRequest as exc:
            self.events.send("error", id=exc.id, message=str(exc))
        except UserError as exc:
            self.events.send("error", id=request_id, message=str(exc))
        except Exception as exc:  # the process never dies of a request
            text = str(exc).strip().splitlines()
            self.events.send("error", id=request_id,
                             message=f"{type(exc).__name__}: {text[0] if text else ''}".strip())

    def stop_requested(self) -> bool:
        """Drain input that arrived meanwhile: stop or quit end the sample, the rest waits."""
        stop = False
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return stop
            try:  # end of input quits only after the requests before it
                op = parse_request(line) if line is not None else None
            except BadRequest:
                op = None
            if op in ("stop", "quit"):
                stop = True
                self.quitting = self.quitting or op == "quit"
            else:
                self.pending.append(line)

    def load(self, request: SampleRequest) -> LoadedRun:
        from engine.runstore import RunDir
        from engine.sample import checkpoint_file, load_for_sampling

        which, path = checkpoint_file(RunDir(request.run_dir), request.checkpoint)
        try:  # a retrained best.pt is a new file: reload it
            stat = path.stat()
            key: tuple | None = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        except OSError:
            key = None  # load_for_sampling says what is wrong
        if self.loaded is None or key is None or key != self.loaded_key:
            self.loaded, self.loaded_key = None, None  # let the old model go before loading
            self.loaded = load_for_sampling(request.run_dir, which)
            self.loaded_key = key
            run = self.loaded
            self.events.send("loaded", id=request.id, run_dir=str(run.run_dir),
                             checkpoint=run.checkpoint, step=run.step, params=run.params,
                             device=run.device, load_s=round(run.load_s, 4))
        return self.loaded

    def sample(self, request: SampleRequest) -> None:
        from engine.sample import random_seed, stream_tokens

        run = self.load(request)
        seed = request.seed if request.seed is not None else random_seed()
        chars = stream_tokens(run.model, run.vocab, request.prompt, request.chars,
                              temperature=request.temperature, top_k=request.top_k, seed=seed,
                              keep=request.keep)
        start = time.perf_counter()
        last_send, first_char_s, count, chunk = start, None, 0, []
        stopped = self.stop_requested()
        if not stopped:
            for ch in chars:
                now = time.perf_counter()
                count += 1
                chunk.append(ch)
                if first_char_s is None:
                    first_char_s = now - start
                if now - last_send >= CHUNK_S:
                    self.events.send("text", id=request.id, text="".join(chunk))
                    chunk, last_send = [], now
                if self.stop_requested():
                    stopped = True
                    break
        if chunk:
            self.events.send("text", id=request.id, text="".join(chunk))
        seconds = time.perf_counter() - start
        self.events.send(
            "done", id=request.id, chars=count, seconds=round(seconds, 4),
            chars_per_s=round(count / seconds, 1) if seconds > 0 else None,
            first_char_s=round(first_char_s, 4) if first_char_s is not None else None,
            stopped=stopped, seed=seed,
        )


def take_stdout() -> IO[str]:
    """Keep the real stdout for protocol lines only; fd 1 and sys.stdout go to stderr from now on,
    so nothing torch, CUDA or a stray print writes can corrupt the stream."""
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(protocol_fd, "w", encoding="utf-8")


def main() -> int:
    # Ctrl-C in the terminal is meant for the TUI; the sampler ends with its input (EOF or quit).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    events = EventWriter(take_stdout())
    from engine.sample import sampling_threads  # torch loads here, before "ready"

    lines: queue.Queue = queue.Queue()
    threading.Thread(target=read_lines, args=(sys.stdin.buffer, lines), daemon=True,
                     name="stdin").start()
    try:
        with sampling_threads():
            events.send("ready")
            Sampler(events, lines).serve()
    except BrokenPipeError:  # the client went away: nothing left to serve
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
