"""lored as a real subprocess, without Lore Cloud: lifecycle, locking, socket hygiene,
hostile clients, other uids, sd_notify, pause/resume/reload and `lorectl status`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemonproc import BIN, Machine, wait_for


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    m = Machine(tmp_path / "m")
    yield m
    m.cleanup()


def _raw(path: Path, data: bytes) -> tuple[int, dict]:
    """Send raw bytes to the socket and parse one JSON answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(path))

        def send() -> None:
            # concurrently with reading: the daemon may answer 413 before reading it all
            try:
                s.sendall(data)
            except OSError:
                pass

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            assert chunk, f"closed without an answer: {buf!r}"
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        while len(body) < length:
            body += s.recv(65536)
        s.shutdown(socket.SHUT_RDWR)
        sender.join(10)
    return int(head.split(b" ")[1]), json.loads(body)


def _post(body: bytes, route: bytes = b"/v1/sync") -> bytes:
    return b"POST %s HTTP/1.1\r\nHost: l\r\nContent-Length: %d\r\n\r\n%s" % (
        route, len(body), body)


def test_lored_help() -> None:
    proc = subprocess.run([str(BIN / "lored"), "--help"], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0
    assert "--log-level" in proc.stdout and "--foreground" in proc.stdout


def test_second_lored_refuses_then_kill9_restart_recovers(machine: Machine) -> None:
    first = machine.start_lored()
    sock = machine.socket_path
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700

    second = subprocess.run([str(BIN / "lored")], env=machine.env, capture_output=True,
                            text=True, timeout=30)
    assert second.returncode != 0
    assert f"lored is already running (pid {first.pid})" in second.stderr
    assert machine.answers()  # the live socket was not stolen

    machine.kill_lored()
    assert sock.exists() and not machine.answers()  # stale socket left behind
    restarted = machine.start_lored()
    assert restarted.pid != first.pid
    assert machine.api("GET", "/health")["pid"] == restarted.pid
    assert machine.stop_lored() == 0
    assert not sock.exists()  # a clean stop removes its socket


def test_hostile_requests_get_4xx_json_and_daemon_keeps_serving(machine: Machine) -> None:
    machine.start_lored()
    sock = machine.socket_path
    big = b"x" * (2 * 1024 * 1024)
    cases = [
        (b"\x00\x01\x02 total garbage\r\n\r\n", 400),
        (_post(b'{"mode":"pus'), 400),  # truncated JSON
        (_post(b'\xff\xfe{"mode"'), 400),  # not UTF-8
        (_post(b'{"mode":"sync","dry_run":"yes"}'), 400),
        (b"PATCH /v1/status HTTP/1.1\r\nHost: l\r\n\r\n", 405),
        (b"GET /v2/everything HTTP/1.1\r\nHost: l\r\n\r\n", 404),
        (b"POST /v1/sync HTTP/1.1\r\nHost: l\r\nContent-Length: %d\r\n\r\n" % len(big) + big,
         413),
    ]
    for data, status in cases:
        got, doc = _raw(sock, data)
        assert got == status, (data[:40], doc)
        assert set(doc["error"]) >= {"code", "message", "hint"}
        assert machine.answers(), f"daemon stopped serving after {data[:40]!r}"
    # a body cut off mid-way by a client that hangs up: nothing to answer, still serving
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(sock))
        s.sendall(b'POST /v1/sync HTTP/1.1\r\nHost: l\r\nContent-Length: 100\r\n\r\n{"mo')
    assert machine.answers()
    assert machine.proc is not None and machine.proc.poll() is None


def test_another_uid_is_refused(tmp_path: Path) -> None:
    """A client running as `nobody` is refused: first by the 0700 runtime dir, and
    — when that dir is opened up on purpose — by the SO_PEERCRED check (403)."""
    if os.getuid() != 0:
        pytest.skip("needs root to run a client under another uid")
    # a world-traversable base so that only lored's own permissions protect the socket
    base = Path(tempfile.mkdtemp(prefix="lore-uid-", dir="/tmp"))
    os.chmod(base, 0o755)
    m = Machine(base / "m")
    os.chmod(base / "m", 0o755)
    try:
        m.start_lored()
        sock = m.socket_path
        client = (
            "import socket, sys\n"
            "s = socket.socket(socket.AF_UNIX)\n"
            "try:\n"
            f"    s.connect({str(sock)!r})\n"
            "except OSError as e:\n"
            "    print('CONNECT', e.errno); sys.exit(0)\n"
            "s.sendall(b'GET /v1/status HTTP/1.1\\r\\nHost: l\\r\\n\\r\\n')\n"
            "print(s.recv(65536).decode(errors='replace'))\n"
        )

        # the venv's interpreter lives under /root; nobody runs the system one (stdlib only)
        system_python = shutil.which("python3", path="/usr/bin:/bin")
        if system_python is None:
            pytest.skip("no system python3 for the unprivileged client")

        def as_nobody() -> str:
            return subprocess.run(
                [system_python, "-I", "-c", client], capture_output=True, text=True, timeout=30,
                preexec_fn=lambda: (os.setgid(65534), os.setuid(65534)),
                cwd="/",
            ).stdout

        assert as_nobody().startswith("CONNECT 13")  # EACCES: the 0700 dir
        # open every directory on the way (LORE_HOME itself is 0700 too), then the socket
        for parent in sock.parents:
            if parent == Path("/tmp") or parent == parent.parent:
                break
            os.chmod(parent, 0o755)
        os.chmod(sock, 0o666)
        answer = as_nobody()
        assert answer.startswith("HTTP/1.1 403"), answer
        assert '"forbidden"' in answer
        assert m.answers()  # own uid still served
    finally:
        m.cleanup()
        shutil.rmtree(base, ignore_errors=True)


def test_notify_socket_gets_ready_and_stopping_and_sigterm_exits_fast(
    machine: Machine,
) -> None:
    notify_dir = Path(tempfile.mkdtemp(prefix="lore-notify-", dir="/tmp"))
    notify = notify_dir / "notify.sock"
    recv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    recv.bind(str(notify))
    recv.settimeout(15)
    try:
        machine.start_lored(wait=False, NOTIFY_SOCKET=str(notify), WATCHDOG_USEC="400000")
        ready = recv.recv(4096).decode()
        assert ready.splitlines()[0] == "READY=1"
        assert "STATUS=" in ready
        assert machine.answers()  # READY only once the socket listens
        assert recv.recv(4096).decode() == "WATCHDOG=1"  # every 0.2 s (half of 0.4 s)
        started = time.monotonic()
        assert machine.stop_lored(signal.SIGTERM) == 0
        assert time.monotonic() - started < 10
        messages = []
        recv.settimeout(0.5)
        while True:
            try:
                messages.append(recv.recv(4096).decode())
            except TimeoutError:
                break
        assert "STOPPING=1" in messages
    finally:
        recv.close()
        shutil.rmtree(notify_dir, ignore_errors=True)


def test_status_pause_resume_and_reload_without_encryption(machine: Machine) -> None:
    down = machine.status()
    assert down["daemon"]["running"] is False and down["local"]["next_auto_sync"] is None
    machine.start_lored()
    up = machine.status()
    assert up["daemon"]["running"] is True and up["daemon"]["pid"] == machine.proc.pid
    # encryption not configured → nothing scheduled, as CLI.md says
    assert up["local"]["next_auto_sync"] is None
    assert "Next auto-sync: Not scheduled" in machine.lorectl("status").stdout

    assert machine.api("POST", "/pause")["paused"] is True
    assert machine.status()["daemon"]["paused"] is True
    assert machine.api("POST", "/resume")["paused"] is False

    cfg = machine.paths.config_file
    cfg.write_text(cfg.read_text() + '\n[sync]\ninterval = "7m"\n')
    machine.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: machine.status()["daemon"]["interval_s"] == 420, what="SIGHUP reload")
    cfg.write_text(cfg.read_text().replace('"7m"', '"9m"'))
    assert machine.api("POST", "/reload")["interval_s"] == 540

    assert machine.api("POST", "/shutdown")["stopping"] is True
    assert machine.proc.wait(timeout=10) == 0


def test_manual_sync_error_reaches_lorectl_through_the_daemon(machine: Machine) -> None:
    machine.start_lored()
    proc = machine.lorectl("sync", check=False)
    assert proc.returncode != 0
    assert "error: This machine is not logged in" in proc.stderr
    assert "hint: run `lorectl login" in proc.stderr
    status = machine.status()
    assert status["daemon"]["cycles"]["failed"] == 1  # it went through the daemon
