"""Import hygiene: the pieces the TUI and the light commands use never load torch."""

import subprocess
import sys

import pytest

TORCH_FREE = [
    "engine", "engine.config", "engine.corpus", "engine.errors", "engine.fsutil", "engine.launch",
    "engine.metrics", "engine.runstore", "engine.vocab", "nanogpt_tui.cli",
]


@pytest.mark.parametrize("module", TORCH_FREE)
def test_module_does_not_import_torch(module: str):
    code = f"import sys, {module}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_engine_never_imports_textual():
    code = ("import sys, engine.train, engine.runstore, engine.launch; "
            "print(any(m.split('.')[0] in ('textual', 'nanogpt_tui') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
