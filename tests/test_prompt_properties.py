"""Property tests: any prompt samples or is refused naming its unknown characters, and the
sampler process never dies of a request, whatever it is sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import UserError
from engine.sample import LoadedRun, load_for_sampling, stream_tokens
from engine.vocab import describe_chars
from tests.test_sampler_process import SamplerProcess

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def tiny_gpt(trained_runs: Path) -> LoadedRun:
    from engine.runstore import RunStore

    return load_for_sampling(RunStore(trained_runs).get("tiny-gpt").path)


@FAST
@given(prompt=st.text(max_size=80))
def test_any_prompt_samples_or_names_its_unknown_characters(tiny_gpt: LoadedRun, prompt: str):
    unknown = tiny_gpt.vocab.unknown(prompt)
    try:
        text = "".join(stream_tokens(tiny_gpt.model, tiny_gpt.vocab, prompt, 5, seed=0))
    except UserError as exc:
        assert unknown, f"refused a prompt the model can read: {exc}"
        assert describe_chars(unknown) in str(exc) and "\n" not in str(exc)
        return
    assert not unknown
    assert len(text) == 5 and not tiny_gpt.vocab.unknown(text)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8),
                                                                       children, max_size=3),
    max_leaves=6).filter(  # not a valid stop, quit or sample: those are no garbage
        lambda v: not (isinstance(v, dict) and v.get("op") in ("sample", "stop", "quit")))


@pytest.fixture(scope="module")
def sampler(tmp_path_factory: pytest.TempPathFactory):
    process = SamplerProcess(tmp_path_factory.mktemp("fuzz") / "stderr.log")
    assert process.next_event() == {"event": "ready"}
    yield process
    assert process.close() == 0


@FAST
@given(prompt=st.text(max_size=40), chars=st.integers(-5, 30),
       temperature=st.one_of(st.floats(allow_nan=True), st.integers(-2, 3)),
       top_k=st.one_of(st.none(), st.integers(-3, 100)), extra=JSON_VALUES)
def test_the_sampler_process_answers_every_request_and_lives_on(
        sampler: SamplerProcess, trained_runs: Path, prompt: str, chars: int, temperature,
        top_k, extra):
    from engine.runstore import RunStore

    run_dir = str(RunStore(trained_runs).get("tiny-gpt").path)
    request = {"op": "sample", "id": "p", "run_dir": run_dir, "prompt": prompt, "chars": chars,
               "temperature": temperature, "top_k": top_k, "seed": 1}
    try:
        line = json.dumps(request)
    except ValueError:  # NaN is not JSON: send it the way a careless client would
        line = json.dumps(request, allow_nan=True)
    sampler.send(line)
    final = sampler.until_done("p")[-1]
    assert sampler.proc.poll() is None
    assert final["event"] in ("done", "error")
    if final["event"] == "error":
        assert final["message"] and "\n" not in final["message"]
    # Garbage of any shape gets an error event too, and the next request is still served.
    sampler.send(json.dumps(extra))
    event = sampler.next_event()
    assert event["event"] == "error" and "\n" not in event["message"]
