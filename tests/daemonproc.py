"""Run ``lored`` and ``lorectl`` as real subprocesses for the daemon's e2e tests.

A :class:`Machine` is one simulated user machine: its own HOME and LORE_HOME under
tmp, an environment without the developer's variables, helpers to run ``lorectl``
and to start/stop/kill its ``lored``. Waiting is always "poll a condition until a
deadline", never a bare sleep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lored.config import resolve_paths

BIN = Path(sys.executable).parent
T = TypeVar("T")


def wait_for(cond: Callable[[], T], timeout: float = 15.0, what: str = "condition",
             interval: float = 0.05) -> T:
    """Poll ``cond`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Machine:
    """One simulated machine (HOME + LORE_HOME) with its lored and lorectl."""

    def __init__(self, root: Path, **env: str) -> None:
        self.root = root
        self.home = root / "home"
        self.lore_home = root / "lore"
        self.home.mkdir(parents=True, exist_ok=True)
        base = {k: v for k, v in os.environ.items()
                if not k.startswith(("LORE_", "XDG_", "NOTIFY_SOCKET", "WATCHDOG_"))}
        self.env: dict[str, str] = {
            **base,
            "HOME": str(self.home),
            "LORE_HOME": str(self.lore_home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_DATA_HOME": str(self.home / ".local/share"),
            "XDG_RUNTIME_DIR": str(root / "xdg-run"),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.paths = resolve_paths(self.env)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = root / "lored.log"

    @property
    def socket_path(self) -> Path:
        """Where this machine's lored listens."""
        return self.paths.socket_path

    def lorectl(self, *args: str, check: bool = True, timeout: float = 60,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``lorectl ARGS`` on this machine."""
        proc = subprocess.run([str(BIN / "lorectl"), *args], env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"lorectl {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def status(self) -> dict[str, Any]:
        """``lorectl status --json``."""
        doc: dict[str, Any] = json.loads(self.lorectl("status", "--json").stdout)
        return doc

    # -- lored --------------------------------------------------------------------------
    def start_lored(self, *args: str, wait: bool = True, **env: str) -> subprocess.Popen[bytes]:
        """Start lored (JSON logs to ``lored.log``); by default wait until it answers."""
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([str(BIN / "lored"), *args], env={**self.env, **env},
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        if wait:
            wait_for(self.answers, what="lored to answer on its socket")
        return self.proc

    def answers(self) -> bool:
        """True when a lored answers /v1/health on this machine's socket."""
        from lorectl.ipc_client import DaemonClient, DaemonUnavailable

        try:
            return bool(DaemonClient(self.socket_path).call("GET", "/health", timeout=5)["ok"])
        except (DaemonUnavailable, Exception):
            return False

    def api(self, method: str, route: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One JSON call to this machine's lored."""
        from lorectl.ipc_client import DaemonClient, DaemonUnavailable

        try:
            return DaemonClient(self.socket_path).call(method, route, body)
        except DaemonUnavailable as exc:
            # say why: a lored that died leaves its exit status and last lines in the log
            if self.proc is not None and self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise AssertionError(f"lored exited with {self.proc.returncode} ({exc}); "
                                     f"its log ends:\n{tail}") from None
            raise

    def stop_lored(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Signal lored and wait for it to exit; returns its exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        return code

    def kill_lored(self) -> None:
        """``kill -9``: no cleanup at all (the socket file stays behind)."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def logs(self) -> list[dict[str, Any]]:
        """lored's JSON log lines so far."""
        out = []
        if self.log_path.exists():
            for line in self.log_path.read_text(errors="replace").splitlines():
                if line.startswith("{"):
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
        return out

    def cleanup(self) -> None:
        """Kill a lored left running by a failed test."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class DelayProxy:
    """A TCP proxy in front of lore-server that can slow every answer down.

    Makes a sync cycle take seconds (so tests can join it or SIGTERM it mid-way)
    without any test hook inside lored: real HTTP, just late.
    """

    def __init__(self, upstream_url: str, delay: float = 0.0) -> None:
        import socket as _socket
        import threading
        from urllib.parse import urlsplit

        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.delay = delay
        self._refuse = False
        self._live: set[Any] = set()
        self._listener = _socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._closed = False
        self._threading = threading
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def refuse(self) -> bool:
        """True: the server is "down" — open connections are cut, new ones hung up on."""
        return self._refuse

    @refuse.setter
    def refuse(self, value: bool) -> None:
        import socket as _socket

        self._refuse = value
        if value:
            for s in list(self._live):
                try:
                    s.shutdown(_socket.SHUT_RDWR)
                except OSError:
                    pass

    def _accept(self) -> None:
        import socket as _socket

        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.refuse:
                client.close()
                continue
            try:
                upstream = _socket.create_connection(self.upstream, timeout=30)
            except OSError:
                client.close()
                continue
            self._live.update((client, upstream))
            for src, dst, slow in ((client, upstream, False), (upstream, client, True)):
                self._threading.Thread(target=self._pump, args=(src, dst, slow),
                                       daemon=True).start()

    def _pump(self, src: Any, dst: Any, slow: bool) -> None:
        import socket as _socket

        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if slow and self.delay:
                    time.sleep(self.delay)  # the point of this proxy: a slow network
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                self._live.discard(s)
                try:
                    s.shutdown(_socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        """Stop accepting (open connections end with their peers)."""
        self._closed = True
        self._listener.close()

