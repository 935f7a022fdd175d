"""`lorectl service install|uninstall|status` as a real subprocess.

The service managers are *recording fakes*: ``tests/fakebin/systemctl``, ``launchctl``
and ``loginctl`` are put first on PATH, log every call to ``$FAKEBIN_LOG`` and answer
with canned output — so these tests never touch the machine's real systemd/launchd.
"""

from __future__ import annotations

import json
import os
import plistlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

FAKEBIN = Path(__file__).resolve().parents[1] / "fakebin"
BIN = Path(sys.executable).parent


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{FAKEBIN}{os.pathsep}{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["FAKEBIN_LOG"] = str(tmp_path / "calls.jsonl")
    env["USER"] = "dev"
    env.update(extra)
    return env


def _lorectl(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(BIN / "lorectl"), "service", *args], env=env,
                          capture_output=True, text=True, timeout=60)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def _calls(tmp_path: Path) -> list[list[str]]:
    log = tmp_path / "calls.jsonl"
    if not log.exists():
        return []
    return [json.loads(line)["argv"] for line in log.read_text().splitlines()]


def test_systemd_install_status_uninstall(tmp_path: Path) -> None:
    env = _env(tmp_path)
    unit = Path(env["XDG_CONFIG_HOME"]) / "systemd" / "user" / "lored.service"

    printed = _lorectl(env, "install", "--print").stdout
    assert "Type=notify" in printed and f"ExecStart={BIN / 'lored'}" in printed
    assert not unit.exists() and _calls(tmp_path) == []  # --print changes nothing

    out = _lorectl(env, "install").stdout
    assert unit.read_text() == printed
    assert _calls(tmp_path)[:3] == [
        ["systemctl", "--user", "show-environment"],  # a user manager answers
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "--now", "lored"],
    ]
    assert "loginctl enable-linger dev" in out  # fake says Linger=no
    assert f"LORE_HOME={env['LORE_HOME']}" in unit.read_text()

    status = json.loads(_lorectl(env, "status", "--json").stdout)
    assert status["installed"] is True and status["manager"] == "systemd"
    assert status["state"] == "active (running), enabled" and status["pid"] == 4242
    assert status["daemon"] == {"answering": False, "pid": None}
    human = _lorectl(env, "status").stdout
    assert "Daemon: not answering on its socket" in human

    _lorectl(env, "uninstall")
    assert not unit.exists()
    assert _calls(tmp_path)[-2:] == [
        ["systemctl", "--user", "disable", "--now", "lored"],
        ["systemctl", "--user", "daemon-reload"],
    ]
    status = json.loads(_lorectl(env, "status", "--json").stdout)
    assert status["installed"] is False and status["state"].startswith("inactive")


def test_linger_hint_is_skipped_when_lingering(tmp_path: Path) -> None:
    out = _lorectl(_env(tmp_path, FAKEBIN_LINGER="yes"), "install").stdout
    assert "enable-linger" not in out


def test_systemctl_failure_is_a_clear_error(tmp_path: Path) -> None:
    proc = _lorectl(_env(tmp_path, FAKEBIN_FAIL="enable"), "install", ok=False)
    assert proc.returncode == 1
    assert "error: `systemctl --user enable --now lored` failed: systemctl: simulated failure" \
        in proc.stderr
    assert "hint:" in proc.stderr
    unit = Path(_env(tmp_path)["XDG_CONFIG_HOME"]) / "systemd" / "user" / "lored.service"
    assert not unit.exists()  # rolled back: nothing half-installed


def test_no_user_systemd_is_one_error_with_a_hint_and_writes_nothing(tmp_path: Path) -> None:
    env = _env(tmp_path, FAKEBIN_NO_BUS="1")
    proc = _lorectl(env, "install", ok=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0] == ("error: no systemd user manager is running for this user (Failed to "
                        "connect to bus: No medium found); nothing was installed")
    assert lines[1].startswith("hint: run `lored` by hand") and "nohup lored" in lines[1]
    assert proc.stdout == ""
    config = Path(env["XDG_CONFIG_HOME"])
    assert not (config / "systemd").exists()  # not even the folder
    assert _calls(tmp_path) == [["systemctl", "--user", "show-environment"]]


def test_launchd_install_and_uninstall(tmp_path: Path) -> None:
    env = _env(tmp_path)
    home = Path(env["HOME"])
    plist = home / "Library" / "LaunchAgents" / "org.lore.lored.plist"
    _lorectl(env, "install", "--manager", "launchd")
    doc: dict[str, Any] = plistlib.loads(plist.read_bytes())
    assert doc["ProgramArguments"][0] == str(BIN / "lored")
    assert (home / "Library" / "Logs" / "lore").is_dir()
    uid = os.getuid()
    assert _calls(tmp_path) == [
        ["launchctl", "bootout", f"gui/{uid}/org.lore.lored"],  # re-install safe
        ["launchctl", "bootstrap", f"gui/{uid}", str(plist)],
    ]
    status = json.loads(_lorectl(env, "status", "--json", "--manager", "launchd").stdout)
    assert status["state"] == "running" and status["pid"] == 4343
    _lorectl(env, "uninstall", "--manager", "launchd")
    assert not plist.exists()
    assert _calls(tmp_path)[-1] == ["launchctl", "bootout", f"gui/{uid}/org.lore.lored"]


def test_uninstall_print_and_not_installed(tmp_path: Path) -> None:
    env = _env(tmp_path)
    printed = _lorectl(env, "uninstall", "--print").stdout
    assert "systemctl --user disable --now lored" in printed
    assert "not installed" in _lorectl(env, "uninstall").stdout
    assert _calls(tmp_path) == []


@pytest.mark.parametrize("manager", ["systemd", "launchd"])
def test_missing_service_manager_binary(tmp_path: Path, manager: str) -> None:
    env = _env(tmp_path)
    env["PATH"] = str(tmp_path / "empty")  # neither fakes nor real binaries
    proc = subprocess.run([str(BIN / "lorectl"), "service", "install", "--manager", manager],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "is not available on this machine" in proc.stderr
