"""The sampler child process (`python -m engine.sampler`), owned by the TUI for its session.

torch loads in the child, never here. Requests go to its stdin as JSON lines; its stdout is
JSON events (ready, loaded, text, done, error) that a reader thread parses and hands to
`on_event`, in the reader's thread. The child's stderr goes to a log file, never to the
terminal the TUI draws on. No Textual import here.
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A command line that replaces `python -m engine.sampler`, e.g. a scripted stand-in that
# streams text at a fixed rate for benchmarks and tests.
SAMPLER_ENV = "NANOGPT_TUI_SAMPLER"

Event = dict[str, Any]


def default_command() -> list[str]:
    override = os.environ.get(SAMPLER_ENV)
    return shlex.split(override) if override else [sys.executable, "-m", "engine.sampler"]


@dataclass(frozen=True)
class SampleRequest:
    run_dir: Path  # absolute: the sampler runs in another working directory
    prompt: str
    chars: int
    temperature: float
    top_k: int | None
    checkpoint: str  # "best" or "last"
    seed: int

    def to_json(self, request_id: str) -> dict[str, Any]:
        return {"op": "sample", "id": request_id, "run_dir": str(self.run_dir),
                "checkpoint": self.checkpoint, "prompt": self.prompt, "chars": self.chars,
                "temperature": self.temperature, "top_k": self.top_k, "seed": self.seed}


class SamplerClient:
    """Starts the child on the first request and keeps it until `close`."""

    def __init__(self, on_event: Callable[[Event], None], log_path: Path | None = None,
                 command: Sequence[str] | None = None) -> None:
        """`log_path` takes the child's stderr; by default sampler.log in the cache directory."""
        self._on_event = on_event
        self._log_path = log_path
        self.command = list(command) if command is not None else default_command()
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._ids = itertools.count(1)
        self._closing = False

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path:
        if self._log_path is None:
            # Imported here: engine.corpus pulls in urllib, which the first frame can do without.
            from engine.corpus import cache_dir

            self._log_path = cache_dir() / "sampler.log"
        return self._log_path

    def _start(self) -> subprocess.Popen[bytes]:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            proc = subprocess.Popen(
                self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self._reader = threading.Thread(target=self._read_events, args=(proc,), daemon=True,
                                        name="sampler-reader")
        self._reader.start()
        return proc

    def sample(self, request: SampleRequest) -> str:
        """Send a request (starting the child if needed); return its id."""
        request_id = f"r{next(self._ids)}"
        if not self.running:
            self._proc = self._start()
        self._send(request.to_json(request_id))
        return request_id

    def stop(self) -> None:
        """Ask the child to end the current sample early; it answers with a `done` event."""
        if self.running:
            self._send({"op": "stop"})

    def _send(self, message: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(message).encode() + b"\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the reader thread reports the exit

    def _read_events(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        pending = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                if line.strip():
                    self._on_event(_parse(line))
        code = proc.wait()
        if not self._closing:
            self._on_event({"event": "exited", "code": code, "log": str(self.log_path)})

    def close(self, timeout: float = 2.0) -> None:
        """Ask the child to quit; terminate it if it does not within `timeout` seconds."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        self._closing = True
        try:
            assert proc.stdin is not None
            proc.stdin.write(b'{"op": "quit"}\n')
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(1.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._reader is not None:
            self._reader.join(1.0)
        if proc.stdout is not None:
            proc.stdout.close()


def _parse(line: bytes) -> Event:
    try:
        event = json.loads(line)
    except ValueError:
        event = None
    if not isinstance(event, dict) or "event" not in event:
        text = line[:120].decode("utf-8", "replace")
        return {"event": "error", "id": None, "message": f"the sampler wrote {text!r}"}
    return event
