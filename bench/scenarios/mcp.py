"""P11 ``lorectl mcp``: spawn to the first tool answer over the captured corpus.

Issue 20's bar: the assistant gets its first answer within 300 ms of starting the
server on 2,000 sessions. Two rows: with ``lored`` running, ``lorectl mcp`` hands its
stdio to lored's warm standby (the bar); without it, the server runs in-process and
pays the SDK's import (informational). The harness is the MCP client: it spawns ``lorectl mcp``,
writes ``initialize``, ``notifications/initialized`` and a ``tools/call`` of
``list_sessions`` as newline-delimited JSON-RPC (the stdio transport's framing) and
times spawn → the tool's answer. The anchor is the floor any server built on the
official SDK pays: a fresh interpreter importing ``mcp.server.fastmcp`` and exiting.
The median of a few runs is shown; printed, never asserted in tests.
"""

from __future__ import annotations

import json
import os
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.context import Ctx
from bench.procs import Unavailable, tool
from bench.report import Row, na

BAR = "≤ 300 ms"
DEADLINE = 60.0  # seconds for one answer: a hang is reported, not waited out


def _messages() -> bytes:
    """initialize, initialized, one list_sessions call: what an assistant sends first."""
    msgs: list[dict[str, Any]] = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "lore-bench", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
         "params": {"name": "list_sessions", "arguments": {"limit": 5}}},
    ]
    return b"".join(json.dumps(m).encode() + b"\n" for m in msgs)


def _read_answer(proc: subprocess.Popen[bytes], want_id: int) -> dict[str, Any]:
    """The JSON-RPC response with ``want_id`` from the server's stdout (deadline-bound)."""
    assert proc.stdout is not None
    buf, end = b"", time.monotonic() + DEADLINE
    fd = proc.stdout.fileno()
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                doc = json.loads(line)
                if doc.get("id") == want_id:
                    return dict(doc)
        left = end - time.monotonic()
        if left <= 0:
            raise Unavailable(f"lorectl mcp gave no answer within {DEADLINE:.0f} s")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise Unavailable(f"lorectl mcp exited (rc {proc.wait()}) before answering")
            buf += chunk


def first_answer(env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """Seconds from spawning ``lorectl mcp`` to its ``list_sessions`` answer, and it."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([tool("lorectl"), "mcp"], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdin is not None
        proc.stdin.write(_messages())
        proc.stdin.flush()
        answer = _read_answer(proc, 2)
        seconds = time.perf_counter() - t0
        proc.stdin.close()  # a closed stdin ends the server (exit 0)
        proc.wait(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return seconds, answer


def sdk_floor(env: dict[str, str]) -> float:
    """Seconds a fresh interpreter takes to import the SDK's server and exit."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import mcp.server.fastmcp"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=DEADLINE)
    return time.perf_counter() - t0


def _standby_ready(sock: Path, after: tuple[int, int] | None) -> tuple[int, int]:
    """Wait until a standby listens on ``sock`` (a new one when ``after`` is the old
    socket's identity) -> (inode, ctime_ns): a freed inode number is often reused."""
    end = time.monotonic() + 2 * DEADLINE  # lored replaces a standby stuck 30 s
    while time.monotonic() < end:
        try:
            st = os.stat(sock)
            if (st.st_ino, st.st_ctime_ns) != after:
                return st.st_ino, st.st_ctime_ns
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise Unavailable(f"lored kept no MCP standby at {sock} within {2 * DEADLINE:.0f} s")


def with_standby(ctx: Ctx, runs: int) -> Row:
    """``lorectl mcp`` with lored up: each run is served by a freshly warmed standby."""
    what = f"mcp via lored's standby: first answer, {ctx.corpus.sessions:,} sessions"
    m = ctx.machine("a")
    try:
        sock = m.socket_path().with_name("mcp.sock")
        # a fresh lored sees the marker the in-process runs left and keeps a standby at once
        m.stop_daemon()
        m.start_daemon()
        seen: tuple[int, int] | None = None
        times: list[float] = []
        for _ in range(runs):
            seen = _standby_ready(sock, seen)
            seconds, answer = first_answer(m.env)
            if answer.get("error") or (answer.get("result") or {}).get("isError"):
                raise Unavailable(f"list_sessions failed: {answer}")
            times.append(seconds)
    except (Unavailable, subprocess.SubprocessError, OSError) as e:
        return na("P11", what, str(e), BAR)
    finally:
        m.stop_daemon()
    lore = statistics.median(times)
    return Row("P11", what, lore, None, "s", "", BAR, lore <= 0.3,
               detail={"runs_s": [round(t, 3) for t in times]})


def p11(ctx: Ctx) -> list[Row]:
    """Median spawn-to-first-answer of ``lorectl mcp``: in-process against the SDK
    import floor, then through lored's warm standby (the bar)."""
    what = f"mcp in-process: first answer, {ctx.corpus.sessions:,} sessions"
    runs = max(3, min(ctx.sizes.repeats, 7))
    try:
        ctx.imported()
        m = ctx.machine("a")
        m.require("mcp")
        sdk_floor(m.env)  # warm the page cache for both sides alike
        times: list[float] = []
        floors: list[float] = []
        answer: dict[str, Any] = {}
        for _ in range(runs):
            seconds, answer = first_answer(m.env)
            times.append(seconds)
            floors.append(sdk_floor(m.env))
    except (Unavailable, subprocess.SubprocessError, OSError) as e:
        return [na("P11", what, str(e), BAR, anchor_name="import mcp")]
    result = answer.get("result") or {}
    if answer.get("error") or result.get("isError"):
        return [na("P11", what, f"list_sessions failed: {answer}", BAR,
                   anchor_name="import mcp")]
    lore, floor = statistics.median(times), statistics.median(floors)
    detail = {"runs_s": [round(t, 3) for t in times],
              "sdk_import_s": [round(t, 3) for t in floors]}
    # the in-process runs left the "lorectl mcp has run here" marker: lored keeps a standby
    return [Row("P11", what, lore, floor, "s", "import mcp", "", None, detail=detail),
            with_standby(ctx, runs)]
