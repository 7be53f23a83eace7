"""The detached training process: `python -m engine.worker RUN_DIR [--resume]`.

Started by `engine.launch.launch` (or by torchrun for several processes). Its stdout and stderr
are the run's worker.log; everything a viewer needs goes into the run directory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.errors import UserError
from engine.runstore import RunDir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.worker")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    run = RunDir(args.run_dir)
    try:
        from engine.train import train  # torch loads here, after argument errors are out

        state = train(run, resume=args.resume)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        run.update_status(state="failed", error=str(exc))
        return exc.exit_code
    print(f"run {run.id}: {state}", flush=True)
    return 0 if state in ("done", "stopped") else 1


if __name__ == "__main__":
    sys.exit(main())
