"""A busy lore-server (its body budget full) slows `lorectl push` down, never breaks it.

The server runs with the smallest body budget (`--max-inflight-bytes 1 MiB`); another
account holds almost all of it with a push body that stalls half-way, so every body
this machine sends is answered 503 with `Retry-After: 2`. The client waits what the
server asked and tries again: it succeeds once the holder lets go, and gives up with
one clear sentence (no traceback) when it never does.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.daemonproc import BIN, Machine, wait_for
from tests.http.client import Api, hold_budget, wait_budget_full
from tests.serverproc import ServerProc, start_server

EMAIL, PASSWORD = "dev@example.com", "account-password-1"
HOLDER, PROBE = "holder@example.com", "probe@example.com"
FIX = Path(__file__).parents[1] / "fixtures"
MIB = 1024 * 1024


@pytest.fixture
def busy(tmp_path: Path) -> Iterator[ServerProc]:
    srv = start_server(tmp_path / "srv", extra_args=["--max-inflight-bytes", str(MIB),
                                                     "--body-timeout", "60"])
    try:
        srv.add_user(EMAIL, PASSWORD)
        srv.add_user(HOLDER, PASSWORD)
        srv.add_user(PROBE, PASSWORD)
        yield srv
    finally:
        srv.stop()


def _hold(url: str, token: str) -> socket.socket:
    """Hold all but 256 B of the server's 1 MiB body budget with a stalled push."""
    return hold_budget(url, token, MIB - 256)


def _wait_full(srv: ServerProc) -> None:
    """Until the held bytes reached the server (and the probe's 503 is in the log)."""
    wait_budget_full(srv.url, Api.login(srv.url, PROBE, "probe-m"))
    wait_for(lambda: 503 in [s for _, s in _pushes(srv)], what="the probe's access line")


def _pushes(srv: ServerProc) -> list[tuple[float, int]]:
    """(time, status) of every POST /v1/push in the server's access log."""
    out = []
    for line in srv.logs().splitlines():
        if line.startswith("{"):
            doc = json.loads(line)
            if doc.get("event") == "request" and doc.get("path") == "/v1/push":
                out.append((datetime.fromisoformat(doc["timestamp"]).timestamp(),
                            doc["status"]))
    return out


def _machine(tmp_path: Path, srv: ServerProc) -> Machine:
    m = Machine(tmp_path / "m", LORE_PASSWORD=PASSWORD, LORE_PASSPHRASE="correct horse battery")
    m.lorectl("login", "--server", srv.url, "--email", EMAIL)
    m.lorectl("push")  # encryption set up while the server is idle
    shutil.copytree(FIX / "claude/projects", m.home / ".claude/projects")
    return m


def test_push_waits_out_retry_after_and_succeeds_once_the_server_has_room(
        tmp_path: Path, busy: ServerProc) -> None:
    m = _machine(tmp_path, busy)
    holder = _hold(busy.url, Api.login(busy.url, HOLDER, "holder-m").token)
    _wait_full(busy)
    before = len(_pushes(busy))
    try:
        push = subprocess.Popen([str(BIN / "lorectl"), "push"], env=m.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_for(lambda: [s for _, s in _pushes(busy)[before:]].count(503) >= 2, timeout=30,
                 what="two busy answers to the push")
    finally:
        holder.close()  # the server gives the held bytes back
    out, err = push.communicate(timeout=60)
    assert push.returncode == 0, err
    assert "Pushed 1 session" in out and "Traceback" not in err
    mine = _pushes(busy)[before:]
    statuses = [s for _, s in mine]
    assert statuses[-1] == 200 and statuses.count(503) >= 2
    busy_times = [t for t, s in mine if s == 503]
    # the client waited at least the Retry-After (2 s) between its attempts
    assert all(b - a >= 1.9 for a, b in zip(busy_times, busy_times[1:], strict=False))
    assert m.status()["local"]["pending_sync"] == 0


def test_push_gives_up_with_one_sentence_when_the_server_stays_busy(
        tmp_path: Path, busy: ServerProc) -> None:
    m = _machine(tmp_path, busy)
    holder = _hold(busy.url, Api.login(busy.url, HOLDER, "holder-m").token)
    _wait_full(busy)
    before = len(_pushes(busy))
    try:
        started = time.monotonic()
        res = m.lorectl("push", check=False, timeout=120)
        took = time.monotonic() - started
    finally:
        holder.close()
    assert res.returncode == 1 and "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith("error: Lore Cloud at ") and "is busy" in lines[0]
    assert "still after 6 attempts" in lines[0]
    assert lines[1].startswith("hint: ") and len(lines) == 2
    assert [s for _, s in _pushes(busy)[before:]].count(503) == 6  # bounded: six tries, no more
    assert 9 <= took < 60  # five waits of about Retry-After (2 s) each
    # nothing half-done: the session is still waiting to be pushed, and goes up now
    assert m.status()["local"]["pending_sync"] == 1
    assert "Pushed 1 session" in m.lorectl("push").stdout


def test_ctrl_c_while_push_waits_is_one_line_and_no_unawaited_coroutine(
        tmp_path: Path, busy: ServerProc) -> None:
    m = _machine(tmp_path, busy)
    holder = _hold(busy.url, Api.login(busy.url, HOLDER, "holder-m").token)
    _wait_full(busy)
    before = len(_pushes(busy))
    try:
        push = subprocess.Popen([str(BIN / "lorectl"), "push"], env=m.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_for(lambda: 503 in [s for _, s in _pushes(busy)[before:]], timeout=30,
                 what="the push to be waiting out a Retry-After")
        push.send_signal(signal.SIGINT)
        _, err = push.communicate(timeout=30)
    finally:
        holder.close()
    assert push.returncode == 130
    assert err.strip() == "interrupted", err  # no RuntimeWarning, no traceback
    # nothing was recorded as pushed: the next push uploads the session
    assert m.status()["local"]["pending_sync"] == 1
    assert "Pushed 1 session" in m.lorectl("push").stdout
