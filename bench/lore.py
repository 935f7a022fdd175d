"""Lore as the user runs it: ``lore-server`` processes and machines driving ``lorectl``.

Only the documented command-line contract (CLI.md) is used here — commands, flags,
environment variables and ``--json`` keys — so the harness keeps working while the
internals change. Every machine gets its own ``LORE_HOME`` and ``HOME``; secrets go in
through ``LORE_PASSWORD`` / ``LORE_PASSPHRASE`` and ``--password-stdin``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.procs import Result, Unavailable, free_port, run, spawn, stop, tool, wait_http

EMAIL = "bench@example.com"
PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway account on a loopback server
PASSPHRASE = "bench passphrase one"
#: the corpus has a few ≈ 20 MB sessions; the default 16 MiB limit would skip them and
#: Lore would push less than rclone copies (the limit is a server setting)
MAX_SESSION_BYTES = 64 * 1024 * 1024


def clean_env(**extra: str) -> dict[str, str]:
    """The harness's environment without any LORE_* of the person running it."""
    drop = ("LORE_", "CLAUDE_", "XDG_", "CODEX_", "OPENCODE_", "NOTIFY_SOCKET", "WATCHDOG_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(extra)
    return env


class LoreServer:
    """``lore-server serve`` (1..n processes on one database), optionally behind the proxy."""

    def __init__(self, work: Path, *, database_url: str | None = None, processes: int = 1,
                 proxy: bool = True, extra_args: tuple[str, ...] = ()) -> None:
        self.work = work
        self.data_dir = work / "server-data"
        self.database_url = database_url
        self.processes = processes
        self.use_proxy = proxy
        self.extra_args = extra_args
        self.procs: list[subprocess.Popen[bytes]] = []
        self.direct_urls: list[str] = []
        self.url = ""
        self.env = clean_env()

    def _where(self) -> list[str]:
        if self.database_url:
            return ["--database-url", self.database_url]
        return ["--data-dir", str(self.data_dir)]

    def start(self) -> LoreServer:
        """Start the server process(es) and wait for ``/healthz``."""
        self.work.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(exist_ok=True)
        exe = tool("lore-server")
        probe = run([exe, "serve", "--help"], env=self.env, timeout=60)
        if probe.rc != 0:
            raise Unavailable(f"lore-server serve not available: {probe.brief()}")
        if self.database_url:
            mig = run([exe, "migrate", *self._where()], env=self.env, timeout=120)
            if mig.rc != 0:
                raise Unavailable(f"lore-server migrate failed: {mig.brief()}")
        for i in range(self.processes):
            port = free_port()
            log = self.work / f"server-{i}.log"
            self.procs.append(spawn(
                [exe, "serve", "--host", "127.0.0.1", "--port", str(port), *self._where(),
                 "--max-session-bytes", str(MAX_SESSION_BYTES), *self.extra_args],
                env=self.env, log=log))
            self.direct_urls.append(f"http://127.0.0.1:{port}")
            wait_http(self.direct_urls[-1] + "/healthz", self.procs[-1], timeout=60, log=log)
        self.url = self.direct_urls[0]
        if self.use_proxy:
            port = free_port()
            self.procs.append(spawn(
                [str(Path(tool("python"))), "-m", "bench.proxy", "--port", str(port),
                 "--target", self.direct_urls[0]], log=self.work / "proxy.log",
                cwd=Path(__file__).resolve().parent.parent))
            self.url = f"http://127.0.0.1:{port}"
            wait_http(self.url + "/__bench__/stats", self.procs[-1])
        return self

    def add_user(self, email: str = EMAIL, password: str = PASSWORD, plan: str = "pro") -> None:
        """``lore-server user add EMAIL --plan pro --password-stdin``."""
        r = run([tool("lore-server"), "user", "add", email, "--plan", plan, "--password-stdin",
                 *self._where()], env=self.env, input=password + "\n", timeout=60)
        if r.rc != 0:
            raise Unavailable(f"lore-server user add failed: {r.brief()}")

    def stats(self, reset: bool = False) -> dict[str, Any]:
        """What the counting proxy saw since the last reset."""
        from bench.proxy import fetch_stats

        if not self.use_proxy:
            return {}
        return fetch_stats(self.url, reset=reset)

    def stop(self) -> None:
        """Stop every process of this server."""
        for p in reversed(self.procs):
            stop(p)
        self.procs.clear()


class Machine:
    """One user machine: its own LORE_HOME, HOME (the corpus), and ``lorectl``."""

    def __init__(self, root: Path, home: Path, name: str) -> None:
        self.root = root
        self.home = home
        self.name = name
        self.lore_home = root / "lore"
        self.lore_home.mkdir(parents=True, exist_ok=True)
        home.mkdir(parents=True, exist_ok=True)
        self.env = clean_env(
            LORE_HOME=str(self.lore_home), HOME=str(home), LORE_PASSWORD=PASSWORD,
            LORE_PASSPHRASE=PASSPHRASE,
        )
        self.daemon: subprocess.Popen[bytes] | None = None

    def lorectl(self, *args: str, timeout: float = 3600, input: str | None = None) -> Result:
        """Run ``lorectl ARGS`` as this machine."""
        return run([tool("lorectl"), *args], env=self.env, timeout=timeout, input=input)

    def json(self, *args: str, what: str = "", timeout: float = 3600) -> tuple[Result, Any]:
        """Run ``lorectl ARGS --json``; Unavailable (with stderr's reason) on failure."""
        r = self.lorectl(*args, "--json", timeout=timeout)
        if r.rc != 0:
            raise Unavailable(f"lorectl {what or args[0]}: {r.brief()}")
        try:
            return r, json.loads(r.out)
        except ValueError:
            # progress lines may precede the document: take the last JSON value printed
            for start in range(len(r.out) - 1, -1, -1):
                if r.out[start] in "{[" and (start == 0 or r.out[start - 1] == "\n"):
                    try:
                        return r, json.loads(r.out[start:])
                    except ValueError:
                        continue
            raise Unavailable(f"lorectl {args[0]} --json printed no JSON") from None

    def require(self, *command: str) -> None:
        """Unavailable unless ``lorectl COMMAND --help`` works (the part has landed)."""
        r = self.lorectl(*command, "--help", timeout=60)
        if r.rc != 0:
            raise Unavailable(f"`lorectl {' '.join(command)}` not built yet ({r.brief()})")

    def login(self, url: str, email: str = EMAIL) -> None:
        """``lorectl login --server URL --email E --password-stdin``."""
        self.require("login")
        r = self.lorectl("login", "--server", url, "--email", email, "--password-stdin",
                         input=PASSWORD + "\n", timeout=120)
        if r.rc != 0:
            raise Unavailable(f"lorectl login: {r.brief()}")

    def socket_path(self) -> Path:
        """Where ``lored`` listens for this machine (from Lore's own path rules)."""
        from lored.config import resolve_paths

        return Path(resolve_paths(self.env).socket_path)

    def start_daemon(self, timeout: float = 60) -> subprocess.Popen[bytes]:
        """Start ``lored`` in the foreground and wait for ``GET /v1/health`` on its socket."""
        from bench.ipc import request

        if self.daemon is not None and self.daemon.poll() is None:
            return self.daemon
        log = self.root / "lored.log"
        self.daemon = spawn([tool("lored")], env=self.env, log=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.daemon.poll() is not None:
                tail = log.read_text(errors="replace")[-600:].strip()
                raise Unavailable(f"lored exited ({self.daemon.returncode}): {tail}")
            try:
                status, _ = request(self.socket_path(), "GET", "/v1/health", timeout=2)
                if status == 200:
                    return self.daemon
            except OSError:
                pass
            time.sleep(0.1)
        raise Unavailable(f"lored did not answer on its socket within {timeout:.0f} s")

    def stop_daemon(self) -> None:
        """Stop ``lored`` if it runs."""
        if self.daemon is not None:
            stop(self.daemon)
            self.daemon = None
