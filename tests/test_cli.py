"""The headless commands, through the same `main` the console script calls."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.runstore import RunStore
from nanogpt_tui.cli import main
from tests.conftest import TINY
from tests.test_worker import wait_for

TINY_SETS = [arg for item in TINY for arg in ("--set", item)]


def run_cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


def test_train_in_the_foreground_then_list_and_show(tmp_path: Path, capsys):
    runs = str(tmp_path / "runs")
    code, _, err = run_cli(capsys, "train", "--runs-dir", runs, *TINY_SETS, "--set",
                           "max_iters=20", "--set", "eval_interval=10", "--name", "fg")
    assert code == 0, err
    assert "step 20: train" in err and "done at step 20" in err
    code, out, _ = run_cli(capsys, "runs", "--runs-dir", runs, "--json")
    (row,) = json.loads(out)
    assert (row["name"], row["state"], row["step"], row["max_iters"]) == ("fg", "done", 20, 20)
    code, out, _ = run_cli(capsys, "runs", "--runs-dir", runs)
    assert "fg" in out and "20/20" in out
    code, out, _ = run_cli(capsys, "show", "--runs-dir", runs, "fg")
    assert code == 0 and "last.pt, best.pt" in out and "n_layer" in out
    code, out, _ = run_cli(capsys, "show", "--runs-dir", runs, "fg", "--json")
    shown = json.loads(out)
    assert shown["config"]["max_iters"] == 20 and shown["checkpoints"] == {"last": True,
                                                                           "best": True}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "n_layr=2"], "unknown config key 'n_layr'. Did you mean 'n_layer'?"),
        (["--set", "n_embd=130"], "must be divisible by n_head"),
        (["--data", "/no/such/file.txt"], "does not exist"),
        (["--preset", "bigram", "--set", "block_size=200000"], "lower block_size"),
    ],
)
def test_train_errors_are_one_line_exit_2_and_write_nothing(tmp_path: Path, capsys, args,
                                                            message):
    runs = tmp_path / "runs"
    code, _, err = run_cli(capsys, "train", "--runs-dir", str(runs), *args)
    assert code == 2
    assert message in one_line_error(err)
    assert not runs.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "is empty"), (b"\x00\x01\x02binary", "looks binary"), (b"\xff\xfe\xfa", "not UTF-8")],
)
def test_bad_data_files_are_refused(tmp_path: Path, capsys, content: bytes, message: str):
    data = tmp_path / "data.txt"
    data.write_bytes(content)
    code, _, err = run_cli(capsys, "train", "--runs-dir", str(tmp_path / "runs"), "--data",
                           str(data))
    assert code == 2 and message in one_line_error(err)


def test_data_path_that_is_a_directory(tmp_path: Path, capsys):
    code, _, err = run_cli(capsys, "train", "--runs-dir", str(tmp_path / "runs"), "--data",
                           str(tmp_path))
    assert code == 2 and "is a directory" in one_line_error(err)


def test_unknown_runs_and_wrong_states(runs_copy: Path, capsys):
    runs = str(runs_copy)
    code, _, err = run_cli(capsys, "show", "--runs-dir", runs, "nope")
    assert code == 2 and "no run 'nope'" in one_line_error(err)
    code, _, err = run_cli(capsys, "resume", "--runs-dir", runs, "tiny-gpt")
    assert code == 2 and "is done" in one_line_error(err)
    code, _, err = run_cli(capsys, "stop", "--runs-dir", runs, "tiny-gpt")
    assert code == 2 and "not training" in one_line_error(err)


def test_delete_needs_yes(runs_copy: Path, capsys):
    runs = str(runs_copy)
    code, _, err = run_cli(capsys, "delete", "--runs-dir", runs, "tiny-bigram")
    assert code == 2 and "--yes" in one_line_error(err)
    code, _, _ = run_cli(capsys, "delete", "--runs-dir", runs, "tiny-bigram", "--yes")
    assert code == 0
    assert [r.name for r in RunStore(runs_copy).summaries()] == ["tiny-gpt"]


def test_presets_are_listed(capsys):
    code, out, _ = run_cli(capsys, "presets")
    assert code == 0
    for name in ("bigram", "baby", "baby-muon", "shakespeare-char", "lecture"):
        assert name in out


def test_installed_command_detaches_stops_and_resumes(tmp_path: Path):
    exe = shutil.which("nanogpt-tui", path=str(Path(sys.executable).parent))
    assert exe, "nanogpt-tui is not installed next to this Python"
    runs = str(tmp_path / "runs")

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([exe, *args, "--runs-dir", runs], capture_output=True, text=True,
                              timeout=120)

    started = cli("train", "--detach", *TINY_SETS, "--set", "max_iters=1000000",
                  "--set", "eval_interval=30", "--name", "bg")
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    run = RunStore(Path(runs)).get(run_id)
    try:
        wait_for(lambda: run.read_status().get("checkpoint_step"))
        stopped = cli("stop", run_id, "--wait", "60")
        assert stopped.returncode == 0 and "is stopped" in stopped.stderr
        resumed = cli("resume", "bg", "--detach")
        assert resumed.returncode == 0 and resumed.stdout.strip() == run_id
        wait_for(lambda: run.state().state == "running")
        assert cli("stop", "bg", "--wait").returncode == 0
        assert run.state().state == "stopped"
    finally:
        if run.state().state in ("starting", "running"):
            cli("stop", run_id, "--wait", "30")


def test_runs_dir_goes_before_or_after_the_command(runs_copy: Path, capsys, monkeypatch):
    monkeypatch.chdir(runs_copy.parent)
    for args in (["--runs-dir", str(runs_copy), "runs", "--json"],
                 ["runs", "--runs-dir", str(runs_copy), "--json"]):
        code, out, _ = run_cli(capsys, *args)
        assert code == 0 and len(json.loads(out)) == 2


def test_show_prints_the_state(runs_copy: Path, capsys):
    code, out, _ = run_cli(capsys, "show", "--runs-dir", str(runs_copy), "tiny-gpt")
    assert code == 0 and "done" in out.splitlines()[0]
