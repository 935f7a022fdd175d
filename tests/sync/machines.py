"""Real-process machines for end-to-end tests: each runs `lorectl` with its own HOME,
LORE_HOME, runtime dir and Claude Code folder, and the secrets in its environment."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

LORECTL = [str(Path(sys.executable).parent / "lorectl")]
PROJECT = "-home-dev-projects-webapp"


def wait_for(cond: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``cond`` until truthy (returns its value) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(delay)  # polling interval of a condition wait, not synchronisation
        delay = min(delay * 2, 0.2)


class LorectlMachine:
    """One user machine driven through the `lorectl` command line."""

    def __init__(self, root: Path, name: str, *, server_url: str | None = None,
                 passphrase: str | None = "correct horse battery",
                 password: str | None = "account-password-1") -> None:
        self.name = name
        self.root = root / name
        self.home = self.root / "home"
        self.lore_home = self.root / "lore"
        self.claude = self.home / ".claude"
        for d in (self.home, self.lore_home, self.claude / "projects" / PROJECT,
                  self.root / "run"):
            d.mkdir(parents=True, exist_ok=True)
        (self.root / "run").chmod(0o700)
        self.server_url = server_url
        self.passphrase = passphrase
        self.password = password

    def env(self, **extra: str | None) -> dict[str, str]:
        """The machine's environment: scrubbed of the test runner's LORE_* settings."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("LORE_", "XDG_", "CLAUDE_", "CODEX_"))}
        env.update(HOME=str(self.home), LORE_HOME=str(self.lore_home),
                   XDG_RUNTIME_DIR=str(self.root / "run"), NO_COLOR="1",
                   PYTHONPATH=str(Path(__file__).parents[2]))
        if self.passphrase is not None:
            env["LORE_PASSPHRASE"] = self.passphrase
        if self.password is not None:
            env["LORE_PASSWORD"] = self.password
        if self.server_url:
            env["LORE_SERVER"] = self.server_url
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def run(self, *args: str, check: bool = True, timeout: float = 120.0,
            input: str | None = None, **env: str | None) -> subprocess.CompletedProcess[str]:
        """Run ``lorectl ARGS`` to completion (stdin is not a TTY)."""
        proc = subprocess.run(
            [*LORECTL, *args], env=self.env(**env), capture_output=True, text=True,
            timeout=timeout, input=input if input is not None else "", cwd=self.root)
        if check and proc.returncode != 0:
            raise AssertionError(f"{self.name}: lorectl {' '.join(args)} exited "
                                 f"{proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}")
        return proc

    def json(self, *args: str, **env: str | None) -> Any:
        """Run ``lorectl ARGS --json`` and parse its output."""
        return json.loads(self.run(*args, "--json", **env).stdout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """Start ``lorectl ARGS`` in the background."""
        return subprocess.Popen([*LORECTL, *args], env=self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=self.root)

    def login(self, email: str = "dev@example.com") -> None:
        """`lorectl login` against the machine's server."""
        assert self.server_url
        self.run("login", "--server", self.server_url, "--email", email)

    def write_session(self, native_id: str, payload: bytes, *, append: bool = False) -> Path:
        """Write (or append to) a Claude Code transcript file."""
        path = self.claude / "projects" / PROJECT / f"{native_id}.jsonl"
        with path.open("ab" if append else "wb") as fh:
            fh.write(payload)
        return path

    def copy_fixtures(self, fixtures: Path) -> None:
        """Copy the repository's Claude Code fixtures into this machine's folder."""
        shutil.copytree(fixtures / "claude" / "projects", self.claude / "projects",
                        dirs_exist_ok=True)

    def db(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read this machine's sessions.db (read-only; safe while lorectl runs: WAL)."""
        path = self.lore_home / "sessions.db"
        if not path.exists():
            return []
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return list(con.execute(sql, params))
        except sqlite3.OperationalError:
            return []
        finally:
            con.close()

    def sessions(self) -> dict[str, Any]:
        """`sessions list --json` keyed by id."""
        return {s["id"]: s for s in self.json("sessions", "list")}

    def show(self, sid: str) -> Any:
        """`sessions show ID --json`."""
        return self.json("sessions", "show", sid)
