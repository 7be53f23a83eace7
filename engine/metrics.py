"""metrics.jsonl: the append-only log of a run, and the tail that reads it.

One JSON object per line. `kind` is "train" (a log step), "eval" (train/val loss at an eval) or
"resume" (training restarted from the checkpoint at `step`: rows logged after that step by the
interrupted process never counted, and a reader drops them). No torch here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TextIO

METRICS_FILE = "metrics.jsonl"


class MetricsWriter:
    """Appends rows, each flushed as one complete line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: TextIO = open(path, "a", encoding="utf-8")  # noqa: SIM115 - held open
        if _ends_torn(path):
            # A killed writer left half a line: end it, so the next row stands on its own line.
            self._file.write("\n")
            self._file.flush()

    def append(self, row: dict[str, Any]) -> None:
        self._file.write(json.dumps(row, separators=(",", ":")) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _ends_torn(path: Path) -> bool:
    with open(path, "rb") as f:
        if f.seek(0, os.SEEK_END) == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"


class MetricsTail:
    """Reads only new complete lines by byte offset; a torn or garbled line is skipped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.rows: list[dict[str, Any]] = []
        self.bad_lines = 0
        self._identity: tuple[int, int] | None = None

    def poll(self) -> bool:
        """Read what was appended since the last call; True when `rows` changed."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        identity = (st.st_dev, st.st_ino)
        if identity != self._identity or st.st_size < self.offset:
            # Replaced or truncated underneath us: start over.
            had_rows = bool(self.rows)
            self._identity, self.offset, self.rows, self.bad_lines = identity, 0, [], 0
            return self._read() or had_rows
        return self._read()

    def _read(self) -> bool:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        end = chunk.rfind(b"\n") + 1
        if not end:
            return False
        self.offset += end
        changed = False
        for line in chunk[:end].splitlines():
            try:
                row = json.loads(line)
                step = int(row["step"])
            except (ValueError, KeyError, TypeError):
                self.bad_lines += 1
                continue
            changed = True
            if row.get("kind") == "resume":
                self.rows = [r for r in self.rows if r["step"] <= step]
            else:
                self.rows.append(row)
        return changed

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.rows if r.get("kind") == kind]


def read_metrics(path: Path) -> list[dict[str, Any]]:
    tail = MetricsTail(path)
    tail.poll()
    return tail.rows
