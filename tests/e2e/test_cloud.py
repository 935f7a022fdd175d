"""End to end with real processes: `lore-server` plus `lorectl` on machines A, B and C.

Each machine has its own HOME, LORE_HOME and Claude Code folder; secrets come from
LORE_PASSWORD / LORE_PASSPHRASE (stdin is never a TTY here).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from tests.sync.machines import LorectlMachine, wait_for
from tests.sync.sessions import lines, native_id

EMAIL = "dev@example.com"
PASSWORD = "account-password-1"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def machine(tmp_path: Path, server: Any, name: str, **kw: Any) -> LorectlMachine:
    """A machine pointed at ``server`` (not logged in yet)."""
    return LorectlMachine(tmp_path, name, server_url=server.url, **kw)


def server_files(server: Any) -> list[Path]:
    """Every file the server stores (database, WAL, SHM, blobs, anything)."""
    root = Path(server.data_dir)
    return [p for p in root.rglob("*") if p.is_file()]


def test_three_machines_share_sessions_and_server_sees_no_plaintext(
        tmp_path: Path, server: Any) -> None:
    a, b, c = (machine(tmp_path, server, n) for n in ("a", "b", "c"))
    for m in (a, b, c):
        m.login(EMAIL)
    markers = {"a": "PLANTED-MARKER-alpha-5e1f9c", "b": "PLANTED-MARKER-bravo-77d2aa"}
    a.copy_fixtures(FIXTURES)
    a.write_session(native_id("a1"), lines("a1", 8, marker=markers["a"]))
    a.write_session(native_id("a2"), lines("a2", 3, marker=markers["a"], pad=4000))
    assert a.json("import")["imported"] == 3
    pushed = a.json("push")
    assert pushed["pushed"] == 3 and pushed["skipped"] == [] and not pushed["dry_run"]
    own_a = set(pushed["sessions"])

    for m in (b, c):
        pulled = m.json("pull")
        assert set(pulled["sessions"]) == own_a and pulled["failed"] == []
        for sid in own_a:
            assert m.show(sid)["messages"] == a.show(sid)["messages"]
        again = m.json("pull")
        assert again["pulled"] == 0 and again["bytes_downloaded"] == 0

    b.write_session(native_id("b1"), lines("b1", 4, marker=markers["b"]))
    b.json("import")
    synced = b.json("sync")
    assert synced["pull"]["pulled"] == 0 and synced["push"]["sessions"] == [
        f"claude-code:{native_id('b1')}"]
    sid_b = synced["push"]["sessions"][0]
    for m in (a, c):
        got = m.json("pull")
        assert got["sessions"] == [sid_b]  # A never gets its own sessions back
        assert m.show(sid_b)["messages"] == b.show(sid_b)["messages"]
    listed = a.sessions()
    assert listed[sid_b]["origin_machine_id"] != listed[next(iter(own_a))]["origin_machine_id"]
    assert not listed[sid_b]["local"] and all(listed[s]["local"] for s in own_a)

    status = a.json("status")
    assert status["cloud"] is not None, status["cloud_error"]
    assert status["account"]["email"] == EMAIL and status["cloud"]["sessions"] == 4
    assert status["local"]["total_sessions"] == 4 and status["local"]["pending_sync"] == 0
    assert status["encryption"]["configured"]

    # plaintext audit: no planted marker anywhere the server keeps bytes
    files = server_files(server)
    assert files
    for path in files:
        data = path.read_bytes()
        for marker in markers.values():
            assert marker.encode() not in data, f"{marker} found in {path}"
        assert b"limit/offset pagination" not in data  # from the fixture transcript


def test_append_to_a_big_session_uploads_only_the_tail(tmp_path: Path, server: Any) -> None:
    a, b = machine(tmp_path, server, "a"), machine(tmp_path, server, "b")
    a.login(EMAIL)
    b.login(EMAIL)
    nid = native_id("big")
    a.write_session(nid, lines("big", 40, pad=125_000))  # ≈ 5 MB
    a.json("import")
    first = a.json("push")
    assert first["bytes_uploaded"] > 2_000_000
    b.json("pull")
    a.write_session(nid, lines("big", 1, start=40, pad=1000), append=True)  # +1 KB
    assert a.json("import")["updated"] == 1
    second = a.json("push")
    assert second["pushed"] == 1 and second["bytes_uploaded"] < 8_000, second
    pulled = b.json("pull")
    assert pulled["pulled"] == 1 and pulled["bytes_downloaded"] < 8_000
    sid = f"claude-code:{nid}"
    assert len(b.show(sid)["messages"]) == 41


def _digests(m: LorectlMachine) -> dict[str, str]:
    return dict(m.db("SELECT id, payload_hash FROM sessions"))  # type: ignore[arg-type]


def test_kill_9_during_push_and_pull_then_sync(tmp_path: Path, server: Any) -> None:
    a, b = machine(tmp_path, server, "a"), machine(tmp_path, server, "b")
    a.login(EMAIL)
    b.login(EMAIL)
    # ≈ 75 MB of transcripts, ≈ 40 MB sealed: several push requests and pull groups,
    # so the kills below land between committed steps
    for i in range(64):
        a.write_session(native_id(f"k{i}"), lines(f"k{i}", 6, pad=200_000))
    assert a.json("import")["imported"] == 64
    a.json("push", "--dry-run")

    proc = a.popen("push")
    wait_for(lambda: proc.poll() is not None
             or a.db("SELECT 1 FROM sessions WHERE pushed_generation > 0"),
             what="the first pushed session")
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    a.run("sync")
    assert a.json("push")["pushed"] == 0
    assert a.json("status")["cloud"]["sessions"] == 64  # no duplicates on the server

    proc = b.popen("pull")
    wait_for(lambda: proc.poll() is not None or b.db("SELECT 1 FROM sessions"),
             what="the first pulled session")
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    b.run("sync")
    assert _digests(b) == _digests(a)
    assert b.json("pull")["pulled"] == 0


def test_failures_exit_non_zero_with_one_actionable_sentence(
        tmp_path: Path, server: Any) -> None:
    a = machine(tmp_path, server, "a")
    a.write_session(native_id("f1"), lines("f1", 2))
    a.json("import")

    out = a.run("push", check=False)  # not logged in
    assert out.returncode not in (0, 2)
    assert "error: " in out.stderr and "hint: " in out.stderr and "login" in out.stderr

    a.login(EMAIL)
    out = a.run("push", check=False, LORE_PASSPHRASE=None)  # no TTY, no variable
    assert out.returncode != 0 and "LORE_PASSPHRASE" in out.stderr
    a.json("push")

    b = machine(tmp_path, server, "b", passphrase="not the right passphrase")
    b.login(EMAIL)
    out = b.run("pull", check=False)
    assert out.returncode != 0 and "passphrase" in out.stderr.lower()
    assert b.json("sessions", "list") == []

    out = a.run("push", check=False, LORE_PASSWORD=None)
    assert out.returncode == 0  # the password is only needed to log in

    server.stop()
    out = a.run("pull", check=False)
    assert out.returncode != 0
    assert f"cannot reach Lore Cloud at {server.url}" in out.stderr and "hint: " in out.stderr
    status = a.run("status", check=False)
    assert status.returncode == 0 and "Total sessions: 1" in status.stdout
    assert "Unavailable: cannot reach Lore Cloud" in status.stdout
