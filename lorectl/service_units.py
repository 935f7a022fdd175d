"""Render the service-manager files that run ``lored``: a systemd user unit, a LaunchAgent.

Pure: inputs are the absolute path of the installed ``lored`` and a few directories;
outputs are the file contents and where they go. ``lorectl service`` writes them and
talks to systemctl/launchctl. The committed ``systemd/lored.service`` and
``launchd/org.lore.lored.plist`` are these renderings with placeholder paths.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

UNIT_NAME = "lored.service"
LAUNCHD_LABEL = "org.lore.lored"
#: environment passed through into the service when set at install time
PASSTHROUGH_ENV = ("LORE_HOME",)
#: systemd waits this long after SIGTERM; lored abandons a running cycle after 5 s
STOP_TIMEOUT_S = 30


def find_lored(env: Mapping[str, str] | None = None) -> Path:
    """Absolute path of the installed ``lored`` (next to this Python first: venv, pipx)."""
    sibling = Path(sys.executable).parent / "lored"
    if sibling.is_file() and os.access(sibling, os.X_OK):
        return sibling.absolute()
    env = os.environ if env is None else env
    found = shutil.which("lored", path=env.get("PATH"))
    if found is None:
        from lored.errors import LoreError

        raise LoreError(
            "cannot find the `lored` executable",
            hint="install Lore with pipx (`pipx install lore-sessions`) so `lored` is on PATH",
        )
    return Path(found).absolute()


def _passthrough(env: Mapping[str, str]) -> dict[str, str]:
    out = {"PYTHONUNBUFFERED": "1"}
    for name in PASSTHROUGH_ENV:
        if env.get(name):
            out[name] = str(Path(env[name]).expanduser().absolute())
    return out


def _systemd_quote(value: str) -> str:
    """Quote one word for an ExecStart=/Environment= line (systemd's C-style quoting)."""
    if value and all(c.isalnum() or c in "/._-+:=@," for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_systemd(lored: Path, env: Mapping[str, str] | None = None) -> str:
    """The systemd *user* unit.

    Only directives that work in a user manager: no ``User=``/``Group=`` (the user
    manager already runs as the user), no ``PrivateTmp=``/``ProtectSystem=`` (need
    namespaces a user manager may not have), no ``network-online.target`` (a system
    target that user units cannot order against).
    """
    env = os.environ if env is None else env
    lines = [
        "# Lore's daemon as a systemd user unit; written by `lorectl service install`",
        "# (run it again after moving or upgrading Lore to refresh the paths).",
        "[Unit]",
        "Description=Lore daemon: capture and end-to-end encrypted sync of AI coding sessions",
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        f"ExecStart={_systemd_quote(str(lored))} --log-format json",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "RestartSec=10",
        "RuntimeDirectory=lore",
        "RuntimeDirectoryMode=0700",
        "UMask=0077",
        f"TimeoutStopSec={STOP_TIMEOUT_S}",
        "WatchdogSec=5min",
        "NoNewPrivileges=yes",
    ]
    for key, value in _passthrough(env).items():
        lines.append(f"Environment={_systemd_quote(f'{key}={value}')}")
    lines += ["", "[Install]", "WantedBy=default.target", ""]
    return "\n".join(lines)


def render_launchd(lored: Path, home: Path, env: Mapping[str, str] | None = None) -> bytes:
    """The LaunchAgent plist (XML): run at login, restart only after a failure."""
    env = os.environ if env is None else env
    log_file = str(launchd_log_dir(home) / "lored.log")
    doc = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": [str(lored), "--log-format", "json"],
        "RunAtLoad": True,
        # restart after a crash or error exit, not after a clean `lorectl service` stop
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 10,
        "ProcessType": "Background",
        "Umask": 0o077,
        "ExitTimeOut": STOP_TIMEOUT_S,
        "StandardOutPath": log_file,
        "StandardErrorPath": log_file,
        "EnvironmentVariables": _passthrough(env),
    }
    return plistlib.dumps(doc, fmt=plistlib.FMT_XML, sort_keys=False)


def systemd_unit_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/systemd/user/lored.service`` (``~/.config`` by default)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "systemd" / "user" / UNIT_NAME


def launchd_plist_path(home: Path) -> Path:
    """``~/Library/LaunchAgents/org.lore.lored.plist``."""
    return home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"


def launchd_log_dir(home: Path) -> Path:
    """``~/Library/Logs/lore`` (launchd does not create it; install does)."""
    return home / "Library" / "Logs" / "lore"
