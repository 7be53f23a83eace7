"""Atomic file replacement: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

TMP_MARK = ".tmp-"


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write through `write` into a temp file beside `path`, fsync it, then rename over `path`.

    A kill at any moment leaves the previous file intact (and at worst a stray temp file, which
    `remove_stale_temps` clears). The temp file gets the umask's mode, not mkstemp's 0600.
    """
    tmp = path.with_name(f"{path.name}{TMP_MARK}{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda f: f.write(data))


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_temps(directory: Path) -> None:
    """Delete temp files a killed writer left behind."""
    for stray in directory.glob(f"*{TMP_MARK}*"):
        stray.unlink(missing_ok=True)
