"""Drive a program in a private tmux server the way a person over SSH would: keys in, screen out.

`-L` gives the server its own socket, so a user's own tmux sessions are never touched. Waits
poll `capture-pane` for text instead of sleeping blindly.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence


class Tmux:
    def __init__(self, socket: str, width: int = 120, height: int = 40) -> None:
        self.socket = socket
        self.width = width
        self.height = height

    @staticmethod
    def available() -> bool:
        return shutil.which("tmux") is not None

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, check=True).stdout

    def start(self, command: Sequence[str], env: Mapping[str, str], cwd: str) -> None:
        """Run `command` in a fresh session; the pane stays open after it exits.

        COLUMNS and LINES are dropped: under pytest they reach the pane as 80x24 and would
        override the pane's real size.
        """
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        line = (f"cd {shlex.quote(cwd)} && env -u COLUMNS -u LINES {exports} "
                f"{shlex.join(command)}; echo EXITED $?; sleep 600")
        self._tmux("new-session", "-d", "-s", "ui", "-x", str(self.width), "-y",
                   str(self.height), line)

    def pane_pid(self) -> int:
        """The pid of the process the pane runs (the shell that runs the command)."""
        return int(self._tmux("display", "-p", "-t", "ui", "#{pane_pid}"))

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "ui")

    def keys(self, *keys: str) -> None:
        """Key names as tmux knows them: Enter, Tab, Escape, C-n, F5..."""
        self._tmux("send-keys", "-t", "ui", *keys)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", "ui", "-l", text)

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """Poll the screen until `pattern` (a regex) is on it; return the match."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            found = re.search(pattern, screen)
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not on screen after {timeout} s:\n{screen}")
            time.sleep(0.1)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
