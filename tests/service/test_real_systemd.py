"""``lored`` as a user service under the REAL systemd 252 user manager (no recording fake).

Every step is what a user does in a terminal: ``lorectl service install`` as that user
with that user's HOME, then the real ``systemctl --user`` and ``journalctl --user``.
Where a test needs a shorter timer than the shipped unit's (RestartSec=10,
WatchdogSec=5min), it adds a systemd drop-in (``lored.service.d/*.conf``), exactly as
an administrator would; the unit itself is the one ``lorectl service install`` wrote.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.service.conftest import LORECTL, User
from tests.service.usermanager import UserManager, wait_for

UNIT = "lored.service"
CLAUDE_LINE = {"type": "user", "sessionId": "{sid}", "cwd": "{cwd}", "uuid": "u1",
               "timestamp": "2026-11-30T10:00:00.000Z",
               "message": {"role": "user", "content": "{text}"}}


def _install(u: User) -> str:
    out = u.lorectl("service", "install")
    assert u.m.systemctl("is-active", UNIT).stdout.strip() == "active"
    return out


def _drop_in(m: UserManager, name: str, body: str) -> None:
    """Write ``~/.config/systemd/user/lored.service.d/NAME`` (owned by the user)."""
    d = m.home / ".config/systemd/user/lored.service.d"
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(body)
    for p in (d, d / name):
        os.chown(p, m.uid, m.gid)
    m.systemctl("daemon-reload", check=True)


def _main_pid(m: UserManager) -> int:
    return int(m.prop(UNIT, "MainPID") or 0)


def _restarted(m: UserManager, old: int) -> bool:
    pid = _main_pid(m)
    return pid not in (0, old) and m.systemctl("is-active", UNIT).stdout.strip() == "active"


def _claude_transcript(u: User, sid: str, text: str) -> None:
    cwd = str(u.m.home / "src" / "orbital")
    line = json.dumps(CLAUDE_LINE).replace("{sid}", sid).replace("{cwd}", cwd)
    line = line.replace("{text}", text)
    escaped = cwd.replace("/", "-")
    u.write(f".claude/projects/{escaped}/{sid}.jsonl", line + "\n")


def _session_ids(u: User) -> set[str]:
    return {r["id"] for r in json.loads(u.lorectl("sessions", "list", "--json"))}


def test_install_starts_only_after_ready_and_status_goes_through_the_socket(
        user: User) -> None:
    out = _install(user)
    m = user.m
    assert "started lored under systemd" in out
    unit = m.home / ".config/systemd/user/lored.service"
    lored = Path(LORECTL).parent / "lored"  # the installed lored, by absolute path
    assert f"ExecStart={lored} " in unit.read_text()
    assert m.prop(UNIT, "Type") == "notify"
    assert m.prop(UNIT, "UnitFileState") == "enabled"
    # Type=notify: "active" means lored sent READY=1, which it does only once its socket
    # is bound; so the very first status answers through the socket
    doc = user.status_json()
    assert doc["daemon"]["running"] is True  # type: ignore[index]
    assert doc["daemon"]["pid"] == _main_pid(m)  # type: ignore[index]
    assert "Next auto-sync: in" in user.lorectl("status")
    # the manager's view agrees with the socket's
    svc = json.loads(user.lorectl("service", "status", "--json"))
    assert svc["pid"] == svc["daemon"]["pid"] == _main_pid(m)
    assert svc["state"].startswith("active (running)"), svc


def test_kill_9_is_restarted_and_takes_over_socket_and_lock(user: User) -> None:
    m = user.m
    _install(user)
    _drop_in(m, "restart.conf", "[Service]\nRestartSec=1\n")
    old = _main_pid(m)
    m.run("kill", "-9", str(old), as_user=False, check=True)
    wait_for(lambda: _restarted(m, old), "systemd to restart lored with a new MainPID", 30)
    assert int(m.prop(UNIT, "NRestarts")) >= 1
    # the new lored took over the stale socket and the lock: it answers, and a sync works
    wait_for(lambda: user.status_json()["daemon"]["pid"] == _main_pid(m),  # type: ignore[index]
             "the restarted lored to answer on the socket", 30)
    doc = json.loads(user.lorectl("sync", "--json"))
    assert "push" in doc and "pull" in doc


def test_a_wedged_daemon_is_killed_by_the_watchdog_and_restarted(user: User) -> None:
    m = user.m
    _install(user)
    once = m.home / "wedge-once"  # the user's lored creates it, so somewhere it may write
    _drop_in(m, "watchdog.conf", "[Service]\nWatchdogSec=3\nRestartSec=1\n"
             f"Environment=LORE_WEDGE=ipc-status LORE_WEDGE_ONCE_FILE={once}\n")
    m.systemctl("restart", UNIT, check=True)
    old = _main_pid(m)
    # a status request wedges its event loop: alive, but no more WATCHDOG=1
    m.run(LORECTL, "status", "--json", env=user.env, timeout=60)
    assert once.exists()
    wait_for(lambda: _restarted(m, old), "the watchdog to kill and restart lored", 40)
    journal = "\n".join(m.journal(UNIT))
    assert "Watchdog timeout" in journal
    wait_for(lambda: user.status_json()["daemon"]["pid"] == _main_pid(m),  # type: ignore[index]
             "the restarted lored to answer", 30)


def test_reload_rereads_config_and_stop_is_clean(user: User) -> None:
    m = user.m
    _install(user)
    before = user.status_json()["daemon"]["interval_s"]  # type: ignore[index]
    cfg = m.home / ".config/lore/config.toml"
    text = cfg.read_text() if cfg.exists() else ""
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(text + "\n[sync]\ninterval = \"7m\"\n")
    os.chown(cfg, m.uid, m.gid)
    m.systemctl("reload", UNIT, check=True)
    wait_for(lambda: user.status_json()["daemon"]["interval_s"] == 420,  # type: ignore[index]
             "the reloaded interval", 20)
    assert before != 420
    pid = _main_pid(m)
    proc = m.systemctl("stop", UNIT)
    assert proc.returncode == 0
    assert m.systemctl("is-active", UNIT).stdout.strip() == "inactive"
    assert m.prop(UNIT, "Result") == "success"  # exited 0 within TimeoutStopSec
    assert m.run("kill", "-0", str(pid), as_user=False).returncode != 0
    lines = [json.loads(x) for x in m.journal(UNIT) if x.startswith("{")]
    events = [x.get("event") for x in lines]
    assert "reloaded" in events and "lored_stopping" in events and "lored_stopped" in events
    assert events.index("lored_stopping") < events.index("lored_stopped")


def test_journal_has_one_json_line_per_cycle_and_no_secret(user: User) -> None:
    m = user.m
    _install(user)
    sid = "5b7e1c2a-0000-4000-8000-000000000001"
    _claude_transcript(user, sid, "journal marker text")
    wait_for(lambda: f"claude-code:{sid}" in _session_ids(user), "the live capture", 30)
    user.lorectl("sync")
    user.lorectl("sync")
    lines = [json.loads(x) for x in m.journal(UNIT) if x.startswith("{")]
    cycles = [x for x in lines if x.get("event") == "cycle"]
    assert len(cycles) >= 2
    for c in cycles:
        assert isinstance(c["seconds"], float) and c["ok"] is True, c
        assert {"pulled", "pushed", "bytes_up", "bytes_down"} <= c.keys(), c
    assert sum(c["pushed"] for c in cycles) >= 1  # the transcript written above
    journal = "\n".join(m.journal(UNIT))
    token = json.loads((m.home / ".local/share/lore/token.json").read_text())
    for secret in (user.env["LORE_PASSWORD"], user.env["LORE_PASSPHRASE"],
                   str(token.get("token")), "journal marker text"):
        assert secret not in journal


def test_status_uninstall_and_install_twice(user: User) -> None:
    m = user.m
    _install(user)
    first = (m.home / ".config/systemd/user/lored.service").read_text()
    pid = _main_pid(m)
    _install(user)  # idempotent: same unit, still one running lored
    assert (m.home / ".config/systemd/user/lored.service").read_text() == first
    assert m.systemctl("is-active", UNIT).stdout.strip() == "active"
    assert _main_pid(m) != 0 and pid != 0
    status = json.loads(user.lorectl("service", "status", "--json"))
    assert status["installed"] is True and status["state"].startswith("active"), status
    assert status["daemon"]["answering"] is True
    out = user.lorectl("service", "uninstall")
    assert "no longer started" in out
    assert not (m.home / ".config/systemd/user/lored.service").exists()
    assert m.systemctl("is-active", UNIT).stdout.strip() in ("inactive", "unknown")
    assert m.prop(UNIT, "UnitFileState") in ("", "not-found")
    status = json.loads(user.lorectl("service", "status", "--json"))
    assert status["installed"] is False, status


def test_history_written_while_down_is_captured_on_start(user: User) -> None:
    m = user.m
    _install(user)
    m.systemctl("stop", UNIT, check=True)
    sid = "5b7e1c2a-0000-4000-8000-000000000002"
    _claude_transcript(user, sid, "written while lored was down")
    m.systemctl("start", UNIT, check=True)
    wait_for(lambda: f"claude-code:{sid}" in _session_ids(user),
             "lored to capture what was written while it was down", 30)


def test_service_comes_back_after_reexec_and_with_a_fresh_manager(user: User) -> None:
    m = user.m
    _install(user)
    pid = _main_pid(m)
    m.systemctl("daemon-reexec", check=True)
    wait_for(lambda: m.systemctl("is-system-running").stdout.strip() in ("running", "degraded"),
             "the manager after daemon-reexec", 30)
    assert m.systemctl("is-active", UNIT).stdout.strip() == "active"
    assert _main_pid(m) == pid  # re-exec keeps services running
    # a reboot-like restart: the manager goes away (units stop) and a new one starts
    m.stop_manager()
    m.start_manager()
    wait_for(lambda: m.systemctl("is-active", UNIT).stdout.strip() == "active",
             "the enabled lored to start with the new manager", 30)
    assert _main_pid(m) not in (0, pid)
    assert user.status_json()["daemon"]["running"] is True  # type: ignore[index]


def test_a_pause_outlives_a_restart(user: User) -> None:
    m = user.m
    _install(user)
    call = ("import sys; from lorectl.ipc_client import DaemonClient; "
            "from lored.config import resolve_paths; "
            "print(DaemonClient(resolve_paths().socket_path).call('POST', '/' + sys.argv[1]))")
    py = str(Path(LORECTL).parent / "python")
    m.run(py, "-c", call, "pause", env=user.env, check=True)
    assert user.status_json()["daemon"]["paused"] is True  # type: ignore[index]
    old = _main_pid(m)
    m.systemctl("restart", UNIT, check=True)
    assert _main_pid(m) != old
    doc = user.status_json()
    assert doc["daemon"]["paused"] is True  # type: ignore[index]
    assert doc["local"]["next_auto_sync"] is None  # type: ignore[index]
    m.run(py, "-c", call, "resume", env=user.env, check=True)
    m.systemctl("restart", UNIT, check=True)
    assert user.status_json()["daemon"]["paused"] is False  # type: ignore[index]

