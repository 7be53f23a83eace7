"""`nanogpt-tui sample`: streamed to the terminal, reproducible, with --out and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.runstore import RunStore
from nanogpt_tui.cli import main
from tests.conftest import REPO


def sample(runs: Path, *args: str) -> int:
    return main(["sample", "--runs-dir", str(runs), *args])


def test_sample_prints_the_prompt_and_its_continuation(trained_runs: Path, capsys):
    assert sample(trained_runs, "tiny-gpt", "--prompt", "ROMEO:", "--chars", "80",
                  "--seed", "3") == 0
    first = capsys.readouterr()
    assert first.out.startswith("ROMEO:") and len(first.out) == len("ROMEO:") + 80
    assert "80 chars" in first.err and "seed 3" in first.err and "best.pt step 100" in first.err
    assert sample(trained_runs, "tiny-gpt", "--prompt", "ROMEO:", "--chars", "80",
                  "--seed", "3") == 0
    assert capsys.readouterr().out == first.out


def test_out_writes_ten_thousand_characters(trained_runs: Path, tmp_path: Path, capsys):
    out = tmp_path / "sample.txt"
    assert sample(trained_runs, "tiny-bigram", "--chars", "10000", "--temperature", "1",
                  "--top-k", "20", "--checkpoint", "last", "--out", str(out)) == 0
    printed = capsys.readouterr().out
    written = out.read_text(encoding="utf-8")
    assert len(written) == 10_000 and written == printed


def test_prompt_file_is_read_as_utf8(trained_runs: Path, tmp_path: Path, capsys):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("KING RICHARD:\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    assert sample(trained_runs, "tiny-gpt", "--prompt-file", str(prompt), "--chars", "20",
                  "--temperature", "0", "--out", str(out)) == 0
    assert out.read_text(encoding="utf-8").startswith("KING RICHARD:\n")
    prompt.write_bytes(b"\xff\xfe bad")
    assert sample(trained_runs, "tiny-gpt", "--prompt-file", str(prompt)) == 2
    assert "not UTF-8" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["--prompt", "naïve\t"], "never saw: 'ï', U+0009"),
    (["--temperature", "-1"], "temperature must be"),
    (["--checkpoint", "best", "--keep", "32"], "keep must be from 0 to 31"),
])
def test_errors_are_one_line_and_exit_2(trained_runs: Path, capsys, args: list[str],
                                        message: str):
    assert sample(trained_runs, "tiny-gpt", *args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_missing_best_checkpoint_says_what_to_do(runs_copy: Path, capsys):
    RunStore(runs_copy).get("tiny-gpt").checkpoint_path("best").unlink()
    assert sample(runs_copy, "tiny-gpt", "--checkpoint", "best") == 2
    assert "use the last checkpoint or wait for the first eval" in capsys.readouterr().err
    assert sample(runs_copy, "tiny-gpt", "--chars", "5") == 0  # the default falls back to last
    assert "from last.pt" in capsys.readouterr().err


def test_the_installed_command_streams_before_it_finishes(trained_runs: Path):
    command = Path(sys.executable).parent / "nanogpt-tui"
    proc = subprocess.Popen(
        [str(command), "sample", "tiny-gpt", "--runs-dir", str(trained_runs),
         "--chars", "10000000", "--prompt", "ROMEO:"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    try:
        head = proc.stdout.read(len("ROMEO:") + 20)
        assert head.startswith(b"ROMEO:") and len(head) == 26
        assert proc.poll() is None  # text arrived while it is still generating
    finally:
        proc.kill()
        proc.wait()


def test_the_cli_does_not_import_torch_at_start_up():
    code = "import sys, nanogpt_tui.cli; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "False"
