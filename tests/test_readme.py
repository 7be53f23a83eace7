"""The README's two fresh-machine commands stay true: CI runs exactly the test command."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    blocks = text.split("```sh\n")[1:3]
    return [block.split("\n```")[0].strip() for block in blocks]


def test_readme_opens_with_install_and_run_then_install_and_test():
    run, test = _commands()
    assert "pip install" in run and run.endswith("nanogpt-tui")
    assert "pip install" in test and "pytest" in test


def test_ci_runs_the_readme_test_command():
    _, test = _commands()
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert test in ci
