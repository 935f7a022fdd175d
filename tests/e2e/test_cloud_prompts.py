"""The interactive prompts of issue 3, on a real pseudo-terminal.

First push: ``First sync - set up encryption``, what the passphrase protects and that it
cannot be recovered, then ``Enter passphrase:`` / ``Confirm passphrase:`` (≥ 8
characters, must match); pull on a new machine: ``Enter your encryption passphrase to
decrypt sessions:`` then ``Passphrase:``, with a second try after a wrong one.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import termios
import time
from pathlib import Path
from typing import Any

from tests.sync.machines import LORECTL, LorectlMachine
from tests.sync.sessions import lines, native_id

EMAIL = "dev@example.com"
PASSWORD = "account-password-1"


class Terminal:
    """`lorectl` running on a pseudo-terminal that is its controlling terminal."""

    def __init__(self, machine: LorectlMachine, *args: str) -> None:
        self.master, slave = pty.openpty()

        def as_session_leader() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        env = machine.env(LORE_PASSPHRASE=None, LORE_PASSWORD=None)
        self.proc = subprocess.Popen([*LORECTL, *args], stdin=slave, stdout=slave,
                                     stderr=slave, env=env, preexec_fn=as_session_leader,
                                     close_fds=True)
        os.close(slave)
        self.seen = ""
        self._pos = 0

    def expect(self, text: str, timeout: float = 30.0) -> None:
        """Read output until ``text`` appears after the previous match (or fail)."""
        deadline = time.monotonic() + timeout
        while text not in self.seen[self._pos:]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"never saw {text!r}; got {self.seen!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    self.seen += os.read(self.master, 4096).decode(errors="replace")
                except OSError:  # the child closed the terminal
                    raise AssertionError(f"never saw {text!r}; got {self.seen!r}") from None
        self._pos = self.seen.index(text, self._pos) + len(text)

    def send(self, line: str) -> None:
        """Type a line."""
        os.write(self.master, (line + "\n").encode())

    def finish(self, timeout: float = 60.0) -> int:
        """Wait for exit, draining output; -> exit status."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.seen += os.read(self.master, 4096).decode(errors="replace")
                except OSError:
                    break
        code = self.proc.wait(max(0.1, deadline - time.monotonic()))
        os.close(self.master)
        return code


def test_first_push_and_new_machine_prompts(tmp_path: Path, server: Any) -> None:
    a = LorectlMachine(tmp_path, "a", server_url=server.url)
    a.login(EMAIL)
    a.write_session(native_id("tty"), lines("tty", 2))
    a.json("import")

    t = Terminal(a, "push")
    t.expect("First sync - set up encryption")
    t.expect("Your session content will be encrypted with a passphrase that only you know.")
    t.expect("The cloud service cannot read your session content.")
    t.expect("A forgotten passphrase cannot be recovered")
    t.expect("`lorectl key export`")
    t.expect("Enter passphrase: ")
    t.send("short")
    t.expect("at least 8 characters")
    t.expect("Enter passphrase: ")
    t.send("correct horse battery")
    t.expect("Confirm passphrase: ")
    t.send("something else")
    t.expect("do not match")
    t.expect("Enter passphrase: ")
    t.send("correct horse battery")
    t.expect("Confirm passphrase: ")
    t.send("correct horse battery")
    assert t.finish() == 0, t.seen
    assert "Pushed 1 session" in t.seen
    assert "correct horse battery" not in t.seen  # never echoed

    b = LorectlMachine(tmp_path, "b", server_url=server.url)
    b.login(EMAIL)
    t = Terminal(b, "pull")
    t.expect("Enter your encryption passphrase to decrypt sessions:")
    t.expect("Passphrase: ")
    t.send("correct horse battery")
    assert t.finish() == 0, t.seen
    assert "Pulled 1 session" in t.seen

    c = LorectlMachine(tmp_path, "c", server_url=server.url)
    c.login(EMAIL)
    t = Terminal(c, "pull")
    t.expect("Enter your encryption passphrase to decrypt sessions:")
    t.expect("Passphrase: ")
    t.send("wrong horse battery")
    t.expect("That passphrase does not open this account's key; try again.")
    t.expect("Passphrase: ")
    t.send("still the wrong one")
    assert t.finish() == 1
    assert "error: The passphrase does not open this account's encryption key" in t.seen
    assert c.json("sessions", "list") == []


def test_a_typo_gets_a_second_try(tmp_path: Path, server: Any) -> None:
    a = LorectlMachine(tmp_path, "a", server_url=server.url)
    a.login(EMAIL)
    a.write_session(native_id("typo"), lines("typo", 2))
    a.json("import")
    a.json("push")
    b = LorectlMachine(tmp_path, "b", server_url=server.url)
    b.login(EMAIL)
    t = Terminal(b, "pull")
    t.expect("Passphrase: ")
    t.send("correct horse batery")
    t.expect("try again.")
    t.expect("Passphrase: ")
    t.send(a.passphrase)
    assert t.finish() == 0, t.seen
    assert "Pulled 1 session" in t.seen
