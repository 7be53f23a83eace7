"""The sampler process: JSON lines in, JSON lines out, one process serving many requests."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from engine.runstore import RunStore
from tests.conftest import REPO

TIMEOUT_S = 30.0


class SamplerProcess:
    """`python -m engine.sampler` with a thread that parses every stdout line as JSON."""

    def __init__(self, stderr_path: Path) -> None:
        self.stderr = stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.sampler"], cwd=REPO, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.stderr,
        )
        self.events: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.events.put(json.loads(line))  # a non-JSON line fails the test that reads it
        self.events.put(None)

    def send(self, request: dict[str, Any] | str) -> None:
        line = request if isinstance(request, str) else json.dumps(request)
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def next_event(self) -> dict[str, Any] | None:
        return self.events.get(timeout=TIMEOUT_S)

    def until_done(self, request_id: Any) -> list[dict[str, Any]]:
        """Events up to this request's done or error event."""
        events = []
        while True:
            event = self.next_event()
            assert event is not None, "the sampler exited"
            events.append(event)
            if event.get("id") == request_id and event["event"] in ("done", "error"):
                return events

    def close(self) -> int:
        if self.proc.poll() is None:
            self.proc.stdin.close()
        code = self.proc.wait(timeout=TIMEOUT_S)
        self.stderr.close()
        return code


@pytest.fixture(scope="module")
def sampler(tmp_path_factory: pytest.TempPathFactory):
    process = SamplerProcess(tmp_path_factory.mktemp("sampler") / "stderr.log")
    assert process.next_event() == {"event": "ready"}
    yield process
    assert process.close() == 0  # end of input quits cleanly


@pytest.fixture(scope="module")
def gpt_dir(trained_runs: Path) -> str:
    return str(RunStore(trained_runs).get("tiny-gpt").path)


def text_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["text"] for e in events if e["event"] == "text")


def test_a_sample_streams_in_several_chunks(sampler: SamplerProcess, gpt_dir: str):
    sampler.send({"op": "sample", "id": "s1", "run_dir": gpt_dir, "prompt": "ROMEO:",
                  "chars": 600, "seed": 42})
    events = sampler.until_done("s1")
    loaded = events[0]
    assert loaded["event"] == "loaded" and loaded["checkpoint"] == "best"
    assert loaded["step"] == 100 and loaded["params"] > 0 and loaded["load_s"] >= 0
    chunks = [e for e in events if e["event"] == "text"]
    assert len(chunks) >= 3
    assert all(e["id"] == "s1" for e in chunks)
    done = events[-1]
    assert done["event"] == "done" and done["chars"] == 600 and not done["stopped"]
    assert done["seed"] == 42 and done["chars_per_s"] > 0 and done["first_char_s"] >= 0
    assert len(text_of(events)) == 600

    # The model stays loaded, and the same seed gives the same text.
    sampler.send({"op": "sample", "id": "s2", "run_dir": gpt_dir, "prompt": "ROMEO:",
                  "chars": 600, "seed": 42})
    again = sampler.until_done("s2")
    assert not any(e["event"] == "loaded" for e in again)
    assert text_of(again) == text_of(events)


def test_stop_ends_a_sample_early(sampler: SamplerProcess, gpt_dir: str):
    sampler.send({"op": "sample", "id": "long", "run_dir": gpt_dir, "chars": 10_000_000})
    while (event := sampler.next_event())["event"] != "text":
        assert event["event"] == "loaded"
    sampler.send({"op": "stop"})
    events = sampler.until_done("long")
    done = events[-1]
    assert done["stopped"] and done["chars"] < 10_000_000
    assert isinstance(done["seed"], int)  # a random seed, reported to reproduce the sample


@pytest.mark.parametrize(("request_line", "message"), [
    ("{not json", "not a JSON request"),
    ('{"op": "frobnicate", "id": "x"}', "unknown op"),
    ('{"op": "sample", "id": "x"}', "needs run_dir"),
    ('{"op": "sample", "id": "x", "run_dir": "/no/such/run"}', "no run directory"),
    ('{"op": "sample", "id": "x", "run_dir": "GPT", "chars": "many"}', "chars must be"),
    ('{"op": "sample", "id": "x", "run_dir": "GPT", "top-k": 5}', "unknown field top-k"),
    ('{"op": "sample", "id": "x", "run_dir": "GPT", "prompt": "caf\\u00e9\\t"}',
     "never saw: 'é', U+0009"),
])
def test_a_bad_request_gets_an_error_and_the_process_serves_on(
    sampler: SamplerProcess, gpt_dir: str, request_line: str, message: str
):
    sampler.send(request_line.replace('"GPT"', json.dumps(gpt_dir)))
    error = sampler.next_event()
    assert error["event"] == "error" and message in error["message"]
    assert "\n" not in error["message"]
    if request_line.startswith('{"op"'):
        assert error["id"] == "x"
    sampler.send({"op": "sample", "id": "ok", "run_dir": gpt_dir, "chars": 5, "seed": 1})
    assert sampler.until_done("ok")[-1]["chars"] == 5


def test_a_replaced_checkpoint_is_reloaded(sampler: SamplerProcess, runs_copy: Path):
    run = RunStore(runs_copy).get("tiny-gpt")
    request = {"op": "sample", "run_dir": str(run.path), "checkpoint": "last", "chars": 5}
    sampler.send({**request, "id": "a"})
    assert sampler.until_done("a")[0]["event"] == "loaded"
    sampler.send({**request, "id": "b"})
    assert sampler.until_done("b")[0]["event"] == "text"
    # A worker writes a new file and renames it over the old one, as training does.
    replacement = run.path / "new.pt"
    shutil.copyfile(run.checkpoint_path("best"), replacement)
    os.replace(replacement, run.checkpoint_path("last"))
    sampler.send({**request, "id": "c"})
    assert sampler.until_done("c")[0]["event"] == "loaded"


def test_quit_stops_a_sample_in_progress_and_exits(tmp_path: Path, gpt_dir: str):
    process = SamplerProcess(tmp_path / "stderr.log")
    assert process.next_event() == {"event": "ready"}
    process.send({"op": "sample", "id": "q", "run_dir": gpt_dir, "chars": 10_000_000})
    process.send({"op": "quit"})
    assert process.until_done("q")[-1]["stopped"]
    assert process.next_event() is None  # stdout closed: the process is gone
    assert process.close() == 0


def test_stdout_carries_protocol_lines_only():
    script = ("import os; from engine.sampler import take_stdout; out = take_stdout(); "
              "print('noise from a print'); os.write(1, b'noise from fd 1\\n'); "
              "out.write('protocol\\n'); out.flush()")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          timeout=TIMEOUT_S, check=True)
    assert done.stdout == b"protocol\n"
    assert b"noise from a print" in done.stderr and b"noise from fd 1" in done.stderr
