"""`nanogpt-tui`: the TUI with no subcommand, and every TUI action as a headless subcommand.

torch is imported only inside the commands that train or sample, never at start-up.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine import config as config_mod
from engine.errors import UserError
from engine.runstore import (
    LIVE_STATES,
    RESUMABLE_STATES,
    RunDir,
    RunStore,
    default_runs_dir,
    summarize,
)
from nanogpt_tui import format as fmt

if TYPE_CHECKING:
    from engine.sample import LoadedRun

err_console = Console(stderr=True, highlight=False)


def _store(args: argparse.Namespace) -> RunStore:
    return RunStore(args.runs_dir or default_runs_dir())


# --- train, resume, stop ----------------------------------------------------------------------


def resolve_train_config(args: argparse.Namespace) -> config_mod.TrainConfig:
    overrides = list(args.set or [])
    if args.data:
        overrides.append(f"data={Path(args.data).expanduser().resolve()}")
    return config_mod.resolve(args.preset, args.config, overrides)


def cmd_train(args: argparse.Namespace) -> int:
    from engine.corpus import check_corpus

    cfg = resolve_train_config(args)
    check_corpus(cfg.data, cfg.block_size)
    run = _store(args).create(cfg, name=args.name or "", preset=args.preset or "")
    if args.detach or args.nproc > 1:
        return _detach(run, resume=False, nproc=args.nproc)
    return _foreground(run, resume=False)


def cmd_resume(args: argparse.Namespace) -> int:
    run = _store(args).get(args.run)
    state = run.state().state
    if state in LIVE_STATES:
        raise UserError(f"run {run.id} is already {state}.")
    if state == "done":
        raise UserError(f"run {run.id} is done: it reached max_iters. Start a new run to go on.")
    if state not in RESUMABLE_STATES:
        raise UserError(f"run {run.id} is {state} and cannot be resumed.")
    run.read_config()
    if args.detach or args.nproc > 1:
        return _detach(run, resume=True, nproc=args.nproc)
    return _foreground(run, resume=True)


def _detach(run: RunDir, resume: bool, nproc: int) -> int:
    from engine.launch import launch

    pid = launch(run, resume=resume, nproc=nproc)
    err_console.print(f"started worker pid {pid}; log in {run.log_path}")
    print(run.id)
    return 0


def _foreground(run: RunDir, resume: bool) -> int:
    from engine.train import train  # torch loads here
    from nanogpt_tui.progress import TrainingProgress

    cfg = run.read_config()
    with TrainingProgress(run.id, cfg.max_iters) as progress:
        state = train(run, resume=resume, progress=progress.on_row)
    status = run.read_status()
    # The terminal may be gone (the hangup that stopped the run): the summary is best effort.
    with contextlib.suppress(OSError):
        if state == "failed":
            err_console.print(f"[red]failed[/]: {escape(str(status.get('error')))}")
        else:
            err_console.print(f"run {run.id} {state} at step {status.get('step')}, "
                              f"best val {fmt.loss(status.get('best_val'))}")
    return 1 if state == "failed" else 0


def cmd_stop(args: argparse.Namespace) -> int:
    from engine.launch import request_stop, wait_until_stopped

    run = _store(args).get(args.run)
    pid = request_stop(run)
    err_console.print(f"asked worker pid {pid} to checkpoint and stop after its current step")
    if args.wait:
        state = wait_until_stopped(run, args.wait)
        err_console.print(f"run {run.id} is {state}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    store = _store(args)
    run = store.get(args.run)
    if not args.yes:
        raise UserError(f"deleting run {run.id} removes its checkpoints; add --yes to confirm.")
    store.delete(run)
    err_console.print(f"deleted run {run.id}")
    return 0


# --- looking at runs --------------------------------------------------------------------------


def cmd_runs(args: argparse.Namespace) -> int:
    rows = _store(args).summaries()
    if args.json:
        print(json.dumps([_summary_dict(r) for r in rows], indent=1))
        return 0
    table = Table(box=None, header_style="bold")
    for column in ("id", "name", "state", "step", "best val", "tok/s", "params", "age"):
        table.add_column(column, justify="right" if column in ("step", "best val",
                                                               "tok/s", "params") else "left")
    for r in rows:
        table.add_row(r.id, escape(r.name), r.state, f"{r.step}/{r.max_iters}",
                      fmt.loss(r.best_val), fmt.si(r.tokens_per_s), fmt.si(r.params, 2),
                      fmt.age(r.created))
    Console().print(table if rows else f"no runs in {_store(args).root}")
    return 0


def _summary_dict(r: Any) -> dict[str, Any]:
    d = dict(vars(r))
    d["path"] = str(r.path)
    return d


def cmd_show(args: argparse.Namespace) -> int:
    run = _store(args).get(args.run)
    summary = summarize(run)
    status = run.read_status()
    cfg = run.read_config()
    checkpoints = {which: run.checkpoint_path(which).exists() for which in ("last", "best")}
    if args.json:
        print(json.dumps({"summary": _summary_dict(summary), "status": status,
                          "config": cfg.to_dict(), "checkpoints": checkpoints}, indent=1))
        return 0
    console = Console(highlight=False)
    console.print(f"[bold]{escape(summary.name)}[/]  {run.id}  {summary.state}"
                  + (f"  {escape(summary.reason)}" if summary.reason else ""))
    console.print(f"step {summary.step}/{summary.max_iters}  best val {fmt.loss(summary.best_val)}"
                  f"  {fmt.si(summary.tokens_per_s)} tok/s  {fmt.si(summary.params, 2)} params"
                  f"  on {status.get('device', '—')}")
    console.print("checkpoints: " + ", ".join(
        f"{which}.pt" for which, exists in checkpoints.items() if exists) or "none")
    console.print(f"directory: {run.path}")
    table = Table(box=None, show_header=False)
    for key, value in cfg.to_dict().items():
        table.add_row(key, repr(value) if isinstance(value, str) else str(value))
    console.print(table)
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    for preset in config_mod.PRESETS.values():
        print(f"{preset.name:18} {preset.description}")
    return 0


def cmd_tui(args: argparse.Namespace) -> int:
    from nanogpt_tui.app import NanoGPTApp

    app = NanoGPTApp(runs_dir=Path(args.runs_dir or default_runs_dir()))
    app.run(mouse=not args.no_mouse)
    if app.still_training:
        names = ", ".join(f"{r.name} ({r.id})" for r in app.still_training)
        count = len(app.still_training)
        print(f"{count} run{'s' if count > 1 else ''} still training: {names}. They go on in the "
              "background; `nanogpt-tui stop RUN` stops one.")
    return 0


# --- sampling and importing ------------------------------------------------------------------


def _read_prompt(args: argparse.Namespace) -> str:
    if args.prompt_file is None:
        return args.prompt or ""
    try:
        return Path(args.prompt_file).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"prompt file {args.prompt_file} does not exist.") from None
    except UnicodeDecodeError:
        raise UserError(f"prompt file {args.prompt_file} is not UTF-8 text.") from None
    except OSError as exc:
        raise UserError(f"cannot read prompt file {args.prompt_file} ({exc.strerror}).") from None


def _open_out(path: Path | None) -> IO[str] | None:
    if path is None:
        return None
    try:
        # newline="": the file holds the sample's own line ends, on every platform
        return open(path, "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise UserError(f"cannot write {path} ({exc.strerror}).") from None


def cmd_sample(args: argparse.Namespace) -> int:
    from engine.sample import load_for_sampling, random_seed, sampling_threads

    run = _store(args).get(args.run)
    prompt = _read_prompt(args)
    with sampling_threads():
        loaded = load_for_sampling(run.path, args.checkpoint)
        seed = args.seed if args.seed is not None else random_seed()
        return _stream_sample(args, loaded, prompt, seed)


def _stream_sample(args: argparse.Namespace, loaded: LoadedRun, prompt: str, seed: int) -> int:
    from engine.sample import stream_tokens

    chars = stream_tokens(loaded.model, loaded.vocab, prompt, args.chars,
                          temperature=args.temperature, top_k=args.top_k, seed=seed,
                          keep=args.keep)
    out_file = _open_out(args.out)
    count, start, stopped, text_end = 0, time.perf_counter(), False, prompt[-1:]
    try:
        _emit(prompt, out_file)
        for ch in chars:
            _emit(ch, out_file)
            count, text_end = count + 1, ch
    except KeyboardInterrupt:
        stopped = True
    except BrokenPipeError:  # the reader (`| head`) has had enough: a normal end
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        if out_file is not None:
            out_file.close()
    seconds = time.perf_counter() - start
    if text_end not in ("", "\n") and sys.stdout.isatty():  # the summary starts its own line
        sys.stdout.write("\n")
    rate = count / seconds if seconds > 0 else 0.0
    err_console.print(f"{'stopped after ' if stopped else ''}{count} chars in {seconds:.2f} s "
                      f"({rate:.0f} chars/s) from {loaded.checkpoint}.pt step {loaded.step} "
                      f"on {loaded.device}; seed {seed}"
                      + (f"; wrote {args.out}" if args.out else ""), markup=False, soft_wrap=True)
    return 130 if stopped else 0


def _emit(text: str, out_file: IO[str] | None) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
    if out_file is not None:
        out_file.write(text)


def cmd_import_nanogpt(args: argparse.Namespace) -> int:
    from engine.nanogpt_import import import_nanogpt

    run = import_nanogpt(args.dir, _store(args), name=args.name or "", meta_path=args.meta)
    err_console.print(f"imported {args.dir} as run {run.id}; try: nanogpt-tui sample {run.id}",
                      markup=False, soft_wrap=True)
    print(run.id)
    return 0


# --- the parser -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    # Accepted before or after the command; after it, a default must not undo what came before.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--runs-dir", type=Path, default=argparse.SUPPRESS,
                        help="where runs live (default: $NANOGPT_TUI_RUNS or ./runs)")
    parser = argparse.ArgumentParser(
        prog="nanogpt-tui", parents=[common],
        description="Train small character-level GPTs and talk to them. "
                    "With no command, opens the terminal workbench.")
    parser.add_argument("--no-mouse", action="store_true", help="do not capture the mouse")
    parser.set_defaults(func=cmd_tui, runs_dir=None)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, func: Any, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(func=func)
        return p

    p = command("train", cmd_train, "start a training run")
    p.add_argument("--preset", choices=list(config_mod.PRESETS), default=None,
                   help=f"starting point (default: {config_mod.DEFAULT_PRESET})")
    p.add_argument("--config", type=Path, help="TOML file of config keys")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one key")
    p.add_argument("--data", help="UTF-8 text file to train on (default: Tiny Shakespeare)")
    p.add_argument("--name", help="a name for the run")
    _add_launch_options(p)

    p = command("resume", cmd_resume, "continue a stopped or interrupted run from last.pt")
    p.add_argument("run", help="run id, id prefix or name")
    _add_launch_options(p)

    p = command("stop", cmd_stop, "ask a training run to checkpoint and stop")
    p.add_argument("run")
    p.add_argument("--wait", type=float, nargs="?", const=120.0, default=0.0,
                   metavar="SECONDS", help="wait until it has stopped")

    p = command("runs", cmd_runs, "list runs, newest first")
    p.add_argument("--json", action="store_true")

    p = command("show", cmd_show, "show a run's state and config")
    p.add_argument("run")
    p.add_argument("--json", action="store_true")

    p = command("delete", cmd_delete, "delete a run that is not training")
    p.add_argument("run")
    p.add_argument("--yes", action="store_true", help="really delete")

    p = command("sample", cmd_sample, "generate text from a run's checkpoint, streamed")
    p.add_argument("run", help="run id, id prefix or name")
    prompt = p.add_mutually_exclusive_group()
    prompt.add_argument("--prompt", help="text to continue (default: start from a newline)")
    prompt.add_argument("--prompt-file", type=Path, help="UTF-8 file with the text to continue")
    p.add_argument("--chars", type=int, default=500, help="characters to generate (default 500)")
    p.add_argument("--temperature", type=float, default=0.8,
                   help="0 is greedy; higher is more random (default 0.8)")
    p.add_argument("--top-k", type=int, default=None,
                   help="draw only from the K likeliest characters (default: all)")
    p.add_argument("--seed", type=int, default=None,
                   help="same seed and settings, same text (default: random, printed at the end)")
    p.add_argument("--checkpoint", choices=["best", "last"], default=None,
                   help="which checkpoint (default: best, or last before the first eval)")
    p.add_argument("--keep", type=int, default=None,
                   help="characters kept when the context window fills (default: half the "
                        "window; window - 1 is nanoGPT's sliding context, at its full cost)")
    p.add_argument("--out", type=Path, help="also write the text (prompt included) to this file")

    p = command("import-nanogpt", cmd_import_nanogpt,
                "make a run from a nanoGPT out_dir (ckpt.pt and the char-level meta.pkl)")
    p.add_argument("dir", type=Path, help="nanoGPT's out_dir, holding ckpt.pt")
    p.add_argument("--name", help="a name for the run (default: the directory's name)")
    p.add_argument("--meta", type=Path, help="meta.pkl, if it is not in DIR or "
                   "DIR/../data/<dataset>/ (where nanoGPT's sample.py looks)")

    command("presets", cmd_presets, "list the presets")
    return parser


def _add_launch_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detach", action="store_true",
                   help="train in a background worker and print the run id")
    p.add_argument("--nproc", type=int, default=1,
                   help="processes under torchrun (DDP; implies --detach)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
