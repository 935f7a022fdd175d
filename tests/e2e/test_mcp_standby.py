"""lored's warm MCP standby: `lorectl mcp` hands its stdio to a process that has the SDK
loaded, which serves the assistant exactly as the in-process server does.

Real processes throughout: lored, its standby, `lorectl mcp` driven by the SDK's stdio
client. That the standby (not `lorectl mcp` itself) served is shown by what happens to
it: the idle standby's process ends with the assistant's session and a new standby
listens on a new socket; had `lorectl mcp` served in-process, the old one would still
be waiting.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
from pathlib import Path

import psutil

from tests.e2e.test_mcp import LORECTL, SID, _drive, checkout, claude_session
from tests.sync.machines import LorectlMachine, wait_for

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "1"}}}


def _standby_socket(m: LorectlMachine) -> Path:
    from lored.config import resolve_paths

    return resolve_paths(m.env()).socket_path.with_name("mcp.sock")


def _idle_standby(lored: subprocess.Popen[bytes], sock: Path, serving: int = 0
                  ) -> tuple[int, int] | None:
    """(pid, socket inode) of the standby lored keeps, once it listens (``serving``: the
    pid of one that serves an assistant, not counted)."""
    try:
        inode = os.stat(sock).st_ino
    except FileNotFoundError:
        return None
    kids = [p for p in psutil.Process(lored.pid).children()
            if "lored.mcp.standby" in " ".join(p.cmdline()) and p.pid != serving
            and not _gone(p.pid)]
    return (kids[0].pid, inode) if len(kids) == 1 else None


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_lored_standby_serves_the_assistant_and_the_next_one_waits(tmp_path: Path) -> None:
    a = LorectlMachine(tmp_path, "a")
    cwd = checkout(a.home, "src/orbital")
    claude_session(a, cwd)
    assert a.json("import")["imported"] == 1
    sock = _standby_socket(a)
    # the first `lorectl mcp` on a machine is served in-process and leaves the marker
    first = subprocess.run([LORECTL, "mcp"], env=a.env(), input="", capture_output=True,
                           timeout=60)
    assert first.returncode == 0 and (a.lore_home / "mcp-used").exists()
    assert not sock.exists()

    lored = subprocess.Popen([str(Path(LORECTL).parent / "lored")], env=a.env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        pid, inode = wait_for(lambda: _idle_standby(lored, sock), 60, "an idle standby")
        assert (os.stat(sock).st_mode & 0o777) == 0o600

        # a stranger's bytes on the socket are refused; the standby keeps waiting
        with socket.socket(socket.AF_UNIX) as bad:
            bad.connect(str(sock))
            bad.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert bad.recv(16) == b""
        assert not _gone(pid) and os.stat(sock).st_ino == inode

        out = asyncio.run(_drive(a, cwd))
        err, listed = out["list"]
        assert not err and [s["session_id"] for s in listed["sessions"]] == [
            f"claude-code:{SID}"]
        err, found = out["search"]
        assert not err and found["results"][0]["session_id"] == f"claude-code:{SID}"
        err, history = out["history"]
        assert not err and history["sessions"], history
        err, bad_call = out["bad_limit"]
        assert err and "positive integer" in str(bad_call)
        # that standby served this assistant and ended with it; the next one listens
        wait_for(lambda: _gone(pid), 30, "the serving standby to end with its stdin")
        pid2, inode2 = wait_for(lambda: _idle_standby(lored, sock), 60, "the next standby")
        assert pid2 != pid  # (a freed inode number may be reused for the new socket)

        # `lorectl mcp` killed mid-session (its assistant gone): the standby ends too,
        # even though the pipes it serves are still open on this side
        proc = subprocess.Popen([LORECTL, "mcp"], env=a.env(), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(INIT).encode() + b"\n")
        proc.stdin.flush()
        answer = json.loads(proc.stdout.readline())
        assert answer["id"] == 1 and answer["result"]["serverInfo"]["name"] == "lore"
        # pid2 serves it: lored already keeps a third, idle one
        pid3, _ = wait_for(lambda: _idle_standby(lored, sock, serving=pid2), 60,
                           "a third standby")
        assert pid3 != pid2 and not _gone(pid2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        wait_for(lambda: _gone(pid2), 30, "the standby to end with its lorectl mcp")
        proc.stdin.close()
        proc.stdout.close()
    finally:
        lored.terminate()
        lored.wait(30)
    # stopping lored stops the idle standby and leaves no socket; `lorectl mcp` then
    # serves in-process again
    wait_for(lambda: _gone(pid3), 30, "the idle standby to stop with lored")
    assert not sock.exists()
    again = subprocess.run([LORECTL, "mcp"], env=a.env(), input="", capture_output=True,
                           timeout=60)
    assert again.returncode == 0 and b"Traceback" not in again.stderr


def test_no_standby_when_lored_is_told_so(tmp_path: Path) -> None:
    a = LorectlMachine(tmp_path, "a")
    a.run("import")
    (a.lore_home / "mcp-used").touch()
    log = tmp_path / "lored.log"
    with log.open("wb") as err:
        lored = subprocess.Popen([str(Path(LORECTL).parent / "lored")],
                                 env=a.env(LORE_MCP_STANDBY="0"),
                                 stdout=subprocess.DEVNULL, stderr=err)
    try:
        line = wait_for(lambda: next((ln for ln in log.read_text().splitlines()
                                      if '"mcp_standby"' in ln), None), 60,
                        "lored's standby decision")
        assert json.loads(line)["kept"] is False
        assert not _standby_socket(a).exists()
        assert not [p for p in psutil.Process(lored.pid).children()
                    if "lored.mcp.standby" in " ".join(p.cmdline())]
    finally:
        lored.terminate()
        lored.wait(30)
