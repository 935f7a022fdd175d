"""A real ``lore-server`` for tests: a subprocess on a free port, or an in-process service.

``start_server(tmp_path)`` runs ``python -m lorecloud.cli serve --port 0``, reads the
bound URL from its stdout and waits for ``/healthz`` with a deadline. ``make_service``
builds a :class:`~lorecloud.service.SyncService` on SQLite for in-process use.
The ``lore_server`` fixture yields a started server and stops it afterwards.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

REPO = Path(__file__).resolve().parent.parent
STARTUP_DEADLINE = 30.0


def _server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LORE_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


@dataclass
class ServerProc:
    """A running ``lore-server serve`` subprocess."""

    proc: subprocess.Popen[str]
    url: str
    data_dir: Path
    database_url: str | None
    log_path: Path
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.proc.pid

    def cli(self, *args: str, input: str | None = None, check: bool = True
            ) -> subprocess.CompletedProcess[str]:
        """Run another ``lore-server`` subcommand against the same database."""
        where = (["--database-url", self.database_url] if self.database_url
                 else ["--data-dir", str(self.data_dir)])
        cmd = [sys.executable, "-m", "lorecloud.cli", *where, *args]
        res = subprocess.run(cmd, input=input, capture_output=True, text=True,
                             env=_server_env(), timeout=60)
        if check and res.returncode != 0:
            raise AssertionError(f"{cmd} failed ({res.returncode}): {res.stderr}")
        return res

    def add_user(self, email: str, password: str, plan: str = "pro") -> None:
        """Create an account with ``lore-server user add``."""
        self.cli("user", "add", email, "--plan", plan, "--password-stdin", input=password + "\n")

    def logs(self) -> str:
        """Everything the server wrote to stderr so far (JSON log lines)."""
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait (graceful shutdown); -> exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL (crash) and reap."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def wait_healthy(url: str, deadline: float, proc: subprocess.Popen[str] | None = None) -> None:
    """Poll ``/healthz`` until 200 or the deadline (monotonic seconds) passes."""
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"lore-server exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url}/healthz did not answer in time")
        time.sleep(0.05)  # polling interval of a condition with a deadline


def start_server(
    tmp_path: Path, *, database_url: str | None = None, open_registration: bool = False,
    max_session_bytes: int | None = None, extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> ServerProc:
    """Start ``lore-server serve --port 0`` and wait until it answers ``/healthz``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    data_dir = tmp_path / "server-data"
    cmd = [sys.executable, "-m", "lorecloud.cli", "serve", "--host", "127.0.0.1", "--port", "0"]
    cmd += ["--database-url", database_url] if database_url else ["--data-dir", str(data_dir)]
    if open_registration:
        cmd.append("--open-registration")
    if max_session_bytes is not None:
        cmd += ["--max-session-bytes", str(max_session_bytes)]
    cmd += extra_args or []
    n = len(list(tmp_path.glob("server-*.log")))
    log_path = tmp_path / f"server-{n}.log"
    log = log_path.open("w")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True,
                            env=_server_env(env), cwd=tmp_path)
    log.close()
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    pump = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
    pump.start()
    deadline = time.monotonic() + STARTUP_DEADLINE
    url = None
    while url is None:
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"lore-server exited with {proc.returncode}: {log_path.read_text()}"
                ) from None
            if time.monotonic() > deadline:
                proc.kill()
                raise TimeoutError("lore-server did not print its URL") from None
            continue
        if line.startswith("lore-server listening on "):
            url = line.split()[-1].strip()
    wait_healthy(url, deadline, proc)
    return ServerProc(proc, url, data_dir, database_url, log_path, [pump])


@pytest.fixture
def lore_server(tmp_path: Path) -> Iterator[ServerProc]:
    """A started SQLite ``lore-server`` (stopped after the test)."""
    server = start_server(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def fast_config(**overrides: Any) -> Any:
    """A ServerConfig with cheap Argon2 (tests only; the real defaults stay in serve)."""
    from lorecloud.config import ServerConfig

    params: dict[str, Any] = {"password_time_cost": 1, "password_memory_kib": 1024}
    params.update(overrides)
    return ServerConfig(**params)


async def make_service(tmp_path: Path, config: Any = None, **overrides: Any) -> Any:
    """An in-process SyncService on SQLite in ``tmp_path/service-data``; close() it after."""
    from lorecloud.backends.sqlite import SqliteBackend
    from lorecloud.service import SyncService

    backend = await SqliteBackend.open(tmp_path / "service-data")
    return await SyncService.create(backend, config or fast_config(**overrides))
