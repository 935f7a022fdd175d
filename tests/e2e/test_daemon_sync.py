"""lored syncing against a real lore-server (both as subprocesses).

Each machine has its own HOME and LORE_HOME; it logs in and pushes once in-process
(which sets up encryption), then runs lored. A DelayProxy between lored and the
server turns a cycle into a multi-second one when a test needs to join or interrupt it.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.daemonproc import BIN, DelayProxy, Machine, wait_for
from tests.serverproc import start_server
from tests.sync.sessions import lines, native_id

EMAIL = "dev@example.com"
PASSWORD = "account-password-1"
PASSPHRASE = "correct horse battery staple"
PROJECT = "-home-dev-projects-webapp"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Any]:
    srv = start_server(tmp_path)
    srv.add_user(EMAIL, PASSWORD)
    yield srv
    srv.stop()


@pytest.fixture
def machines(tmp_path: Path) -> Iterator[list[Machine]]:
    made: list[Machine] = []
    yield made
    for m in made:
        m.cleanup()


def _machine(tmp_path: Path, made: list[Machine], name: str, url: str, **env: str) -> Machine:
    m = Machine(tmp_path / name, LORE_PASSWORD=PASSWORD, LORE_PASSPHRASE=PASSPHRASE,
                NO_COLOR="1", **env)
    made.append(m)
    m.lorectl("login", "--server", url, "--email", EMAIL)
    return m


def _write(m: Machine, name: str, count: int, *, pad: int = 0) -> str:
    folder = m.home / ".claude" / "projects" / PROJECT
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{native_id(name)}.jsonl").write_bytes(lines(name, count, pad=pad))
    return f"claude-code:{native_id(name)}"


def _health(m: Machine) -> dict[str, Any]:
    return m.api("GET", "/health")


def _cycles(m: Machine) -> dict[str, Any]:
    cycles: dict[str, Any] = _health(m)["cycles"]
    return cycles


def _cycle_logs(m: Machine) -> list[dict[str, Any]]:
    return [e for e in m.logs() if e.get("event") == "cycle"]


def test_scheduled_cycles_pause_resume_and_next_auto_sync_moves(
    tmp_path: Path, server: Any, machines: list[Machine]
) -> None:
    a = _machine(tmp_path, machines, "a", server.url, LORE_SYNC_INTERVAL="2")
    _write(a, "first", 4)
    a.lorectl("import")
    a.lorectl("push")  # in-process: sets up encryption
    a.start_lored()

    first = a.status()
    assert first["daemon"]["running"] is True
    nxt1 = first["local"]["next_auto_sync"]
    assert nxt1 is not None and nxt1.endswith("Z")
    # with a 2 s interval the next run may be due right now on a busy machine
    assert re.search(r"Next auto-sync: (in |just now)", a.lorectl("status").stdout)

    wait_for(lambda: _cycles(a)["completed"] >= 2, timeout=20, what="two scheduled cycles")
    assert {e["trigger"] for e in _cycle_logs(a)} <= {"schedule", "capture"}
    assert all(e["ok"] for e in _cycle_logs(a))
    nxt2 = wait_for(lambda: (n := a.status()["local"]["next_auto_sync"]) and n > nxt1 and n,
                    what="next_auto_sync to move forward")
    assert nxt2 > nxt1

    a.api("POST", "/pause")
    paused = a.status()
    assert paused["local"]["next_auto_sync"] is None and paused["daemon"]["paused"] is True
    assert "Next auto-sync: Not scheduled" in a.lorectl("status").stdout
    wait_for(lambda: not _cycles(a)["running"], what="the running cycle to end")
    count = _cycles(a)["started"]
    # three intervals pass without a cycle (a deadline-bounded negative check)
    with pytest.raises(AssertionError, match="timed out"):
        wait_for(lambda: _cycles(a)["started"] > count, timeout=5, what="no cycle while paused")

    a.api("POST", "/resume")
    wait_for(lambda: _cycles(a)["started"] > count, timeout=10, what="cycles after resume")
    assert a.status()["local"]["next_auto_sync"] is not None
    assert a.stop_lored() == 0


def test_manual_syncs_join_a_long_running_cycle(
    tmp_path: Path, server: Any, machines: list[Machine]
) -> None:
    proxy = DelayProxy(server.url)
    try:
        # no capture-triggered cycle may sneak in during this test
        a = _machine(tmp_path, machines, "a", proxy.url, LORE_SYNC_DEBOUNCE="600")
        _write(a, "one", 6)
        a.lorectl("import")
        a.lorectl("push")
        a.start_lored()  # interval: the 15-minute default, so only manual cycles here
        for i in range(3):
            _write(a, f"more-{i}", 8)
        wait_for(lambda: a.status()["local"]["total_sessions"] == 4,
                 what="the watcher to capture the new sessions")
        before = _cycles(a)["started"]
        proxy.delay = 0.8  # every answer from the server is now 800 ms late

        first = subprocess.Popen([str(BIN / "lorectl"), "sync", "--json"], env=a.env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: _cycles(a)["running"], what="the first sync to start a cycle")
        others = [subprocess.Popen([str(BIN / "lorectl"), cmd, "--json"], env=a.env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                  for cmd in ("sync", "push")]
        wait_for(lambda: (_cycles(a)["current"] or {}).get("joined", 0) >= 3,
                 what="both later requests to join the running cycle")
        outs = [p.communicate(timeout=60) for p in (first, *others)]
        for p, (_, err) in zip((first, *others), outs, strict=True):
            assert p.returncode == 0, err
        results = [json.loads(out) for out, _ in outs]
        assert results[0] == results[1]  # the joiner got that cycle's result
        assert results[2] == results[0]["push"]  # a push joining a sync gets its push part
        assert results[0]["push"]["pushed"] == 3
        assert _cycles(a)["started"] == before + 1  # one cycle for three requests
        joined = [e for e in _cycle_logs(a) if e.get("joined") == 3]
        assert len(joined) == 1 and joined[0]["pushed"] == 3
    finally:
        proxy.close()


def test_sigterm_during_sync_then_restart_reaches_the_uninterrupted_end_state(
    tmp_path: Path, server: Any, machines: list[Machine]
) -> None:
    proxy = DelayProxy(server.url)
    try:
        a = _machine(tmp_path, machines, "a", proxy.url, LORE_STOP_GRACE="1",
                     LORE_SYNC_DEBOUNCE="600")
        _write(a, "seed", 2)
        a.lorectl("import")
        a.lorectl("push")
        ids = {_write(a, f"big-{i}", 40, pad=2000) for i in range(8)}
        a.start_lored()
        proxy.delay = 2.0  # the cycle now outlasts the 1 s stop grace
        sync = subprocess.Popen([str(BIN / "lorectl"), "sync"], env=a.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: _cycles(a)["running"], what="a running cycle")
        assert a.stop_lored(signal.SIGTERM, timeout=10) == 0  # quick, clean exit mid-cycle
        _, err = sync.communicate(timeout=30)
        assert sync.returncode != 0 and "error:" in err  # told, not silently dropped

        proxy.delay = 0
        a.start_lored()
        a.lorectl("sync")
        status_a = a.status()
        assert status_a["local"]["pending_sync"] == 0
        local = {s["id"]: s for s in json.loads(a.lorectl("sessions", "list", "--json").stdout)}
        assert ids <= set(local)

        # the uninterrupted end state: a fresh machine pulls exactly A's sessions, intact
        b = _machine(tmp_path, machines, "b", server.url)
        b.lorectl("pull")
        pulled = {s["id"]: s for s in json.loads(b.lorectl("sessions", "list", "--json").stdout)}
        assert set(pulled) == set(local)
        for sid in ids:
            assert pulled[sid]["message_count"] == local[sid]["message_count"] == 40
            show_a = json.loads(a.lorectl("sessions", "show", sid, "--json").stdout)
            show_b = json.loads(b.lorectl("sessions", "show", sid, "--json").stdout)
            assert show_a["messages"] == show_b["messages"]
        assert status_a["cloud"]["sessions"] == len(local)
    finally:
        proxy.close()


def _seconds_until(iso: str) -> float:
    from datetime import UTC, datetime

    when = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return (when - datetime.now(UTC)).total_seconds()


def test_capture_triggers_a_debounced_sync(
    tmp_path: Path, server: Any, machines: list[Machine]
) -> None:
    a = _machine(tmp_path, machines, "a", server.url, LORE_SYNC_DEBOUNCE="1")
    _write(a, "seed", 2)
    a.lorectl("import")
    a.lorectl("push")
    a.start_lored()  # 15-minute interval: only capture can trigger a cycle here
    sid = _write(a, "fresh", 6)
    entry = wait_for(lambda: [e for e in _cycle_logs(a) if e["trigger"] == "capture"],
                     timeout=20, what="a capture-triggered cycle")[0]
    assert entry["ok"] and entry["pushed"] == 1
    assert a.status()["local"]["pending_sync"] == 0
    b = _machine(tmp_path, machines, "b", server.url)
    b.lorectl("pull")
    assert sid in {s["id"] for s in json.loads(b.lorectl("sessions", "list", "--json").stdout)}


def test_failed_cycles_back_off_and_a_success_restores_the_interval(
    tmp_path: Path, server: Any, machines: list[Machine]
) -> None:
    proxy = DelayProxy(server.url)
    try:
        a = _machine(tmp_path, machines, "a", proxy.url, LORE_SYNC_INTERVAL="2")
        _write(a, "seed", 2)
        a.lorectl("import")
        a.lorectl("push")
        a.start_lored()
        proxy.refuse = True  # Lore Cloud "goes down"
        wait_for(lambda: a.status()["daemon"]["backoff_failures"] >= 1, timeout=20,
                 what="a failed scheduled cycle")
        doc = a.status()
        assert doc["cloud_error"] is not None  # status still answers, says why
        # the retry waits ~30 s (± jitter), far beyond the 2 s interval
        assert _seconds_until(doc["local"]["next_auto_sync"]) > 15
        failed = [e for e in _cycle_logs(a) if not e["ok"]]
        assert failed and failed[0]["error"] == "server_unreachable"

        proxy.refuse = False
        a.lorectl("sync")  # a manual success ends the failure streak
        doc = a.status()
        assert doc["daemon"]["backoff_failures"] == 0
        assert _seconds_until(doc["local"]["next_auto_sync"]) < 3  # normal cadence again
    finally:
        proxy.close()
