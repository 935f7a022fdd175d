"""Child processes for the harness: start, wait for readiness, always stop.

Every process the harness starts is registered here and killed (its whole process
group) at exit, on Ctrl-C and on SIGTERM, so an interrupted ``make bench`` leaves no
``lore-server``, ``rclone`` or PostgreSQL behind.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
_children: list[subprocess.Popen[bytes]] = []


class Unavailable(Exception):  # noqa: N818 - reads as "the scenario is unavailable"
    """A scenario cannot run here (a part not built yet, a missing tool); shown as n/a."""


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tool(name: str) -> str:
    """Path of a console script in the harness's venv (falls back to the bare name)."""
    p = BIN / name
    return str(p) if p.exists() else name


def spawn(
    cmd: Sequence[str], *, env: Mapping[str, str] | None = None, log: Path | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a long-running child in its own process group; output goes to ``log``."""
    out = log.open("ab") if log else subprocess.DEVNULL
    p = subprocess.Popen(
        list(cmd), env=dict(env) if env is not None else None, stdout=out,
        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, cwd=cwd,
    )
    _children.append(p)
    return p


def stop(p: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the child's process group, then SIGKILL it if it lingers."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(5)
    if p in _children:
        _children.remove(p)


def stop_all() -> None:
    """Stop every child still registered (newest first)."""
    for p in reversed(list(_children)):
        stop(p, timeout=5)


def _on_signal(signum: int, _frame: object) -> None:
    stop_all()
    raise SystemExit(128 + signum)


def install_handlers() -> None:
    """Stop children on exit, SIGINT and SIGTERM (called once by the runner)."""
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)


def wait_http(url: str, p: subprocess.Popen[bytes] | None = None, timeout: float = 30.0,
              log: Path | None = None) -> None:
    """Poll ``url`` until it answers (any HTTP status counts: the server is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if p is not None and p.poll() is not None:
            tail = log.read_text(errors="replace")[-800:] if log and log.exists() else ""
            raise Unavailable(f"{Path(p.args[0]).name} exited ({p.returncode}): {tail.strip()}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback only
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise Unavailable(f"{url} did not answer within {timeout:.0f} s")


@dataclass
class Result:
    """A finished command: exit code, output and wall time."""

    rc: int
    out: str
    err: str
    seconds: float

    def brief(self) -> str:
        """The most useful line of the error output, for an n/a reason."""
        lines = [ln.strip() for ln in (self.err or self.out).splitlines() if ln.strip()]
        for ln in lines:
            if ln.startswith("error:"):
                return ln[:200]
        return (lines[-1] if lines else f"exit {self.rc}")[:200]


def run(
    cmd: Sequence[str], *, env: Mapping[str, str] | None = None, input: str | None = None,
    timeout: float = 3600.0, cwd: Path | None = None,
) -> Result:
    """Run a command to completion and time it with ``perf_counter``."""
    t0 = time.perf_counter()
    try:
        p = subprocess.run(
            list(cmd), env=dict(env) if env is not None else None, input=input,
            capture_output=True, text=True, timeout=timeout, cwd=cwd,
        )
    except subprocess.TimeoutExpired as e:
        raise Unavailable(f"{Path(cmd[0]).name} timed out after {timeout:.0f} s") from e
    except FileNotFoundError as e:
        raise Unavailable(f"{cmd[0]} not found") from e
    return Result(p.returncode, p.stdout, p.stderr, time.perf_counter() - t0)
