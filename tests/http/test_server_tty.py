"""lore-server on a terminal: `user add` prompts, readable `serve` logs (issue 16).

Real processes on a real pseudo-terminal (python's `pty`). Piped, `serve` writes JSON
lines (every other server test reads those).
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.ptyproc import ANSI
from tests.serverproc import REPO

CMD = [sys.executable, "-m", "lorecloud.cli"]


class Tty:
    """A process on a pty that can be answered prompt by prompt."""

    def __init__(self, args: list[str]) -> None:
        self.master, slave = pty.openpty()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LORE_")}
        env["PYTHONPATH"] = str(REPO)
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     close_fds=True)
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            assert time.monotonic() < deadline, f"never saw {text!r} in {self.seen!r}"
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.seen += ANSI.sub("", os.read(self.master, 4096).decode(errors="replace"))
                except OSError:
                    assert text in self.seen, self.seen
        return self.seen

    def send(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def finish(self, timeout: float = 30) -> tuple[int, str]:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None or select.select([self.master], [], [], 0)[0]:
            assert time.monotonic() < deadline, self.seen
            try:
                ready, _, _ = select.select([self.master], [], [], 0.2)
                if ready:
                    self.seen += ANSI.sub("", os.read(self.master, 4096).decode(errors="replace"))
            except OSError:
                break
        os.close(self.master)
        return self.proc.wait(timeout), self.seen.replace("\r\n", "\n")


def test_user_add_refuses_a_short_password_before_asking_it_again(tmp_path: Path) -> None:
    base = [*CMD, "--data-dir", str(tmp_path / "d"), "user", "add"]
    short = Tty([*base, "a@example.com"])
    short.expect("Password:")
    short.send("short")
    code, out = short.finish()
    assert code == 1 and "Repeat" not in out
    assert "error: the password must have at least 8 characters" in out and "hint: " in out

    differ = Tty([*base, "a@example.com"])
    differ.expect("Password:")
    differ.send("long enough password")
    differ.expect("Repeat for confirmation:")
    differ.send("another long password")
    code, out = differ.finish()
    assert code == 1 and "error: the two passwords differ" in out

    good = Tty([*base, "a@example.com", "--plan", "pro"])
    good.expect("Password:")
    good.send("long enough password")
    good.expect("Repeat for confirmation:")
    good.send("long enough password")
    code, out = good.finish()
    assert code == 0 and "created a@example.com (plan pro" in out
    assert "long enough password" not in out  # hidden input


def test_serve_logs_readable_lines_on_a_tty(tmp_path: Path) -> None:
    serve = Tty([*CMD, "serve", "--port", "0", "--data-dir", str(tmp_path / "d")])
    serve.expect("lore-server listening on ")
    out = serve.expect("listening")
    serve.proc.send_signal(signal.SIGTERM)
    code, out = serve.finish()
    assert code == 0
    lines = [line for line in out.splitlines() if "listening" in line and "url=" in line]
    assert lines and not lines[0].lstrip().startswith("{"), out  # ConsoleRenderer, not JSON
    assert "[info" in lines[0] and "backend=sqlite" in lines[0]
    assert "shutting down" in out
