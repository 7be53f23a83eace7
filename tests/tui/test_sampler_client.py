"""The sampler client against a protocol-true scripted sampler child."""

from __future__ import annotations

import queue
import sys
from pathlib import Path

from nanogpt_tui.sampler_client import SamplerClient, SampleRequest
from tests.tui.conftest import scripted_sampler


def _client(tmp_path: Path, command: list[str]) -> tuple[SamplerClient, queue.Queue]:
    events: queue.Queue = queue.Queue()
    return SamplerClient(events.put, tmp_path / "sampler.log", command=command), events


def _request(prompt: str = "ROMEO:", chars: int = 200) -> SampleRequest:
    return SampleRequest(run_dir=Path("/runs/x"), prompt=prompt, chars=chars, temperature=0.8,
                         top_k=None, checkpoint="best", seed=7)


def _until(events: queue.Queue, kind: str) -> list[dict]:
    seen = []
    while True:
        event = events.get(timeout=20)
        seen.append(event)
        if event["event"] == kind:
            return seen


def test_starts_lazily_streams_text_and_quits(tmp_path: Path) -> None:
    client, events = _client(tmp_path, scripted_sampler())
    assert not client.running
    request_id = client.sample(_request())
    assert client.running
    seen = _until(events, "done")
    text = "".join(e["text"] for e in seen if e["event"] == "text")
    assert len(text) == 200 and all(e.get("id") in (None, request_id) for e in seen)
    assert seen[-1]["chars"] == 200 and seen[-1]["seed"] == 7
    client.close()
    assert not client.running


def test_an_unknown_character_is_an_error_event_and_the_sampler_serves_on(tmp_path: Path) -> None:
    client, events = _client(tmp_path, scripted_sampler())
    bad = client.sample(_request(prompt="ROMÉO"))
    error = _until(events, "error")[-1]
    assert error["id"] == bad and "never saw" in error["message"]
    client.sample(_request(chars=10))
    assert _until(events, "done")[-1]["chars"] == 10
    client.close()


def test_stop_ends_a_sample_early(tmp_path: Path) -> None:
    client, events = _client(tmp_path, scripted_sampler(cps=200))
    client.sample(_request(chars=100_000))
    _until(events, "text")
    client.stop()
    done = _until(events, "done")[-1]
    assert done["stopped"] and done["chars"] < 100_000
    client.close()


def test_a_crashing_sampler_is_reported_with_its_log(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import sys; sys.stderr.write('boom\\n'); sys.exit(3)"]
    client, events = _client(tmp_path, command)
    client.sample(_request())
    exited = _until(events, "exited")[-1]
    assert exited["code"] == 3
    assert "boom" in Path(exited["log"]).read_text()
    client.close()


def test_garbage_on_stdout_becomes_an_error_event(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "print('not json', flush=True); import sys; sys.stdin.read()"]
    client, events = _client(tmp_path, command)
    client.sample(_request())
    error = _until(events, "error")[-1]
    assert "not json" in error["message"]
    client.close()
