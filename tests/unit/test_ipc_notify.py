"""sd_notify (lored/daemon/notify.py) against a real datagram socket, path and abstract."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from pathlib import Path

from lored.daemon.notify import Notifier


def _recv(sock: socket.socket) -> str:
    sock.settimeout(2)
    return sock.recv(4096).decode()


def test_path_socket_receives_ready_status_stopping() -> None:
    with tempfile.TemporaryDirectory(dir="/tmp") as d:
        path = Path(d) / "notify"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(str(path))
            n = Notifier({"NOTIFY_SOCKET": str(path)})
            assert n.enabled
            assert n.ready("next sync\nin 2 min")
            msg = _recv(sock)
            assert msg.splitlines()[0] == "READY=1"
            assert f"MAINPID={os.getpid()}" in msg
            assert "STATUS=next sync in 2 min" in msg  # one line, never a broken datagram
            assert n.stopping() and _recv(sock) == "STOPPING=1"


def test_abstract_namespace_socket() -> None:
    name = f"lore-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        n = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert n.watchdog() and _recv(sock) == "WATCHDOG=1"


def test_disabled_and_broken_targets_are_no_ops() -> None:
    assert not Notifier({}).ready()
    assert not Notifier({"NOTIFY_SOCKET": "/nonexistent/sock"}).stopping()
    assert not Notifier({"NOTIFY_SOCKET": "vsock:2:1234"}).enabled


def test_watchdog_interval_only_for_this_pid() -> None:
    mine = Notifier({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid())})
    assert mine.watchdog_interval() == 10.0
    other = Notifier({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"})
    assert other.watchdog_interval() is None
    assert Notifier({"WATCHDOG_USEC": "junk"}).watchdog_interval() is None
