"""Run lorectl on a real pseudo-terminal (python's ``pty``) of a chosen size."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

LORECTL = str(Path(sys.executable).parent / "lorectl")
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


def run_pty(args: list[str], env: dict[str, str], rows: int = 24, cols: int = 80,
            timeout: float = 60) -> tuple[int, str]:
    """``lorectl ARGS`` on a ``rows`` x ``cols`` pty (stdin, stdout and stderr) ->
    (exit status, what it wrote with ANSI codes stripped and CRLF as LF)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen([LORECTL, *args], stdin=slave, stdout=slave, stderr=slave,
                            env=env, close_fds=True)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every writer closed the pty
                    break
                if not data:
                    break
                out += data
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
    return code, ANSI.sub("", out.decode(errors="replace")).replace("\r\n", "\n")
