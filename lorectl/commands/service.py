"""`lorectl service install|uninstall|status`: run lored under systemd (Linux) or launchd (macOS).

install: render the unit with the absolute path of the installed ``lored``, write it to
``~/.config/systemd/user/`` (``$XDG_CONFIG_HOME`` respected) or ``~/Library/LaunchAgents/``
and start it (``systemctl --user daemon-reload && systemctl --user enable --now lored``,
or ``launchctl bootstrap gui/$UID …``); uninstall reverses that; status asks the service
manager and the daemon's socket. ``--print`` shows what would be written/run, changing
nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from lorectl import service_units as units
from lorectl.common import emit_json, handle_errors
from lored.errors import LoreError


@dataclass(frozen=True)
class Manager:
    """One service manager: where its file goes and the commands that (un)load it."""

    name: str
    path: Path
    content: bytes
    start: list[list[str]]
    stop: list[list[str]]


def _manager(kind: str) -> Manager:
    home = Path(os.environ.get("HOME", "~")).expanduser()
    if kind == "launchd":
        path = units.launchd_plist_path(home)
        domain = f"gui/{os.getuid()}"
        return Manager(
            "launchd", path, units.render_launchd(units.find_lored(), home),
            start=[["launchctl", "bootstrap", domain, str(path)]],
            stop=[["launchctl", "bootout", f"{domain}/{units.LAUNCHD_LABEL}"]],
        )
    path = units.systemd_unit_path()
    return Manager(
        "systemd", path, units.render_systemd(units.find_lored()).encode(),
        start=[["systemctl", "--user", "daemon-reload"],
               ["systemctl", "--user", "enable", "--now", "lored"]],
        stop=[["systemctl", "--user", "disable", "--now", "lored"]],
    )


def _run(cmd: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a service-manager command; a missing binary or failure is a LoreError."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except FileNotFoundError:
        raise LoreError(
            f"`{cmd[0]}` is not available on this machine",
            hint="run `lored` under your own supervisor, or `lorectl service install --print`",
        ) from None
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise LoreError(
            f"`{' '.join(cmd)}` failed: {detail[-1] if detail else f'exit {proc.returncode}'}",
            hint="see `lorectl service status` and the service manager's log",
        )
    return proc


def _write(path: Path, content: bytes) -> None:
    """Atomically: a temporary file, then rename (readers never see half a unit)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(content)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


#: what to tell someone whose machine has no user service manager
BY_HAND = ("run `lored` by hand instead (it stays in the foreground: `nohup lored >/dev/null "
           "2>&1 &`, or a line in your shell's profile or your own supervisor); "
           "`lorectl service install --print` shows the unit")


def _preflight(m: Manager) -> None:
    """Refuse (LoreError) when the service manager cannot take a user service here."""
    if m.name != "systemd":  # launchd: every macOS login has a GUI domain
        if shutil.which("launchctl") is None:
            raise LoreError("`launchctl` is not available on this machine", hint=BY_HAND)
        return
    cmd = ["systemctl", "--user", "show-environment"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except FileNotFoundError:
        raise LoreError(f"`{cmd[0]}` is not available on this machine",
                        hint=BY_HAND) from None
    except subprocess.TimeoutExpired:
        raise LoreError(f"`{' '.join(cmd)}` did not answer", hint=BY_HAND) from None
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        why = detail[-1] if detail else f"exit {proc.returncode}"
        raise LoreError(f"no systemd user manager is running for this user ({why}); "
                        "nothing was installed", hint=BY_HAND)


def _default_kind() -> str:
    return "launchd" if sys.platform == "darwin" else "systemd"


manager_option = click.option(
    "--manager", type=click.Choice(["systemd", "launchd"]), default=None, hidden=True,
    help="Override the platform's service manager (for tests and packaging).",
)


@click.group("service")
def service_group() -> None:
    """Run lored as a user service (systemd on Linux, launchd on macOS)."""


@service_group.command("install")
@click.option("--print", "print_only", is_flag=True, help="Show the unit; install nothing.")
@manager_option
@handle_errors
def install_cmd(print_only: bool, manager: str | None) -> None:
    """Write the unit with absolute paths and start lored now and at every login."""
    m = _manager(manager or _default_kind())
    if print_only:
        click.echo(m.content.decode(), nl=False)
        return
    _preflight(m)  # before anything is written: no user manager means nothing changes
    running = _daemon_health()
    if running is not None:
        click.echo(f"note: a lored is already running (pid {running.get('pid')}); the service "
                   "will take over once it stops", err=True)
    m.path.parent.mkdir(parents=True, exist_ok=True)
    if m.name == "launchd":
        units.launchd_log_dir(m.path.parents[2]).mkdir(parents=True, exist_ok=True)
        for cmd in m.stop:  # re-install: unload the old agent first; absence is fine
            _run(cmd, check=False)
    previous = m.path.read_bytes() if m.path.exists() else None
    _write(m.path, m.content)
    try:
        for cmd in m.start:
            _run(cmd)
    except LoreError:
        # the manager refused to start it: put back what was there (or nothing), so a
        # failed install leaves no unit behind that a later login would half-start
        if previous is None:
            m.path.unlink(missing_ok=True)
        else:
            _write(m.path, previous)
        raise
    click.echo(f"wrote {m.path}")
    click.echo(f"started lored under {m.name}")
    if m.name == "systemd":
        user = os.environ.get("USER") or os.environ.get("LOGNAME") or "$USER"
        linger = _run(["loginctl", "show-user", user, "--property=Linger"], check=False)
        if "Linger=yes" not in linger.stdout:
            click.echo(f"hint: run `loginctl enable-linger {user}` to keep lored syncing "
                       "while you are logged out")


@service_group.command("uninstall")
@click.option("--print", "print_only", is_flag=True, help="Show the commands; change nothing.")
@manager_option
@handle_errors
def uninstall_cmd(print_only: bool, manager: str | None) -> None:
    """Stop lored, disable it and remove the unit (local sessions are kept)."""
    m = _manager(manager or _default_kind())
    reload = [["systemctl", "--user", "daemon-reload"]] if m.name == "systemd" else []
    if print_only:
        for cmd in m.stop:
            click.echo(" ".join(cmd))
        click.echo(f"rm {m.path}")
        for cmd in reload:
            click.echo(" ".join(cmd))
        return
    if not m.path.exists():
        click.echo(f"not installed ({m.path} does not exist)")
        return
    for cmd in m.stop:
        _run(cmd, check=False)  # already stopped or never loaded is fine
    m.path.unlink()
    for cmd in reload:
        _run(cmd)
    click.echo(f"removed {m.path}; lored is no longer started by {m.name}")


@service_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--print", "print_only", is_flag=True, help="Also show the installed unit.")
@manager_option
@handle_errors
def status_cmd(as_json: bool, print_only: bool, manager: str | None) -> None:
    """What the service manager says about lored, and whether its socket answers."""
    kind = manager or _default_kind()
    path = (units.launchd_plist_path(Path.home()) if kind == "launchd"
            else units.systemd_unit_path())
    doc: dict[str, Any] = {"manager": kind, "unit_file": str(path),
                           "installed": path.exists(), **_manager_state(kind)}
    health = _daemon_health()
    doc["daemon"] = {"answering": health is not None,
                     "pid": health.get("pid") if health else None}
    if as_json:
        emit_json(doc)
        return
    click.echo(f"Service manager: {kind}")
    click.echo(f"Unit file: {path} ({'installed' if doc['installed'] else 'not installed'})")
    click.echo(f"State: {doc.get('state', 'unknown')}")
    if health is not None:
        click.echo(f"Daemon: answering (pid {health.get('pid')})")
    else:
        click.echo("Daemon: not answering on its socket")
    if print_only and path.exists():
        click.echo("")
        click.echo(path.read_text(), nl=False)


def _manager_state(kind: str) -> dict[str, Any]:
    try:
        if kind == "launchd":
            proc = _run(["launchctl", "print", f"gui/{os.getuid()}/{units.LAUNCHD_LABEL}"],
                        check=False)
            fields = _kv(proc.stdout, sep=" = ")
            state = fields.get("state", "not loaded" if proc.returncode else "unknown")
            return {"state": state, "pid": _int(fields.get("pid"))}
        proc = _run(["systemctl", "--user", "show", "lored", "--property=ActiveState,SubState,"
                     "UnitFileState,MainPID"], check=False)
        f = _kv(proc.stdout, sep="=")
        if "ActiveState" not in f:  # e.g. no user manager/bus in this session
            detail = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
            return {"state": f"unknown (systemctl --user: {detail})", "pid": None}
        state = f"{f['ActiveState']} ({f.get('SubState', '?')})"
        if f.get("UnitFileState"):
            state += f", {f['UnitFileState']}"
        return {"state": state, "pid": _int(f.get("MainPID")) or None}
    except LoreError as err:  # no systemctl/launchctl here: say so, still check the socket
        return {"state": f"unavailable ({err.message})", "pid": None}


def _kv(text: str, *, sep: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, found, value = line.strip().partition(sep)
        if found and key and key not in out:
            out[key.strip()] = value.strip()
    return out


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _daemon_health() -> dict[str, Any] | None:
    from lorectl.ipc_client import DaemonClient, DaemonUnavailable
    from lored.config import resolve_paths

    try:
        return DaemonClient(resolve_paths().socket_path).call("GET", "/health", timeout=5)
    except (DaemonUnavailable, LoreError, json.JSONDecodeError):
        return None
