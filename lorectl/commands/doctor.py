"""`lorectl doctor [--repair] [--json]`: check store, config, login, key, server, daemon, service.

Each check prints one line with its status and, when something is off, the command that
fixes it. `--repair` moves a damaged sessions.db aside and rebuilds it from the tools'
files and a pull (`lored.api.doctor.repair_store`). Exit status: 0 when nothing failed.
"""

from __future__ import annotations

from typing import Any

import click

from lorectl.common import emit_json, handle_errors, run

_MARK = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}


def _daemon_and_service() -> list[dict[str, Any]]:
    from lorectl.commands.service import _daemon_health, _default_kind, _manager_state

    health = _daemon_health()
    checks = [{"check": "daemon", "status": "ok" if health else "warn",
               "detail": (f"lored answers on its socket (pid {health.get('pid')})" if health
                          else "lored is not running (commands run in process; no auto-sync)"),
               "fix": None if health else "run `lorectl service install` to start it at login"}]
    kind = _default_kind()
    state = str(_manager_state(kind).get("state", "unknown"))
    active = state.startswith("active") or state == "running"
    checks.append({"check": "service", "status": "ok" if active else "warn",
                   "detail": f"{kind}: {state}",
                   "fix": None if active else "run `lorectl service install`"})
    return checks


@click.command("doctor")
@click.option("--repair", is_flag=True,
              help="move a damaged sessions.db aside and rebuild it (capture + pull)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@handle_errors
def doctor_cmd(repair: bool, as_json: bool) -> None:
    """Check this machine's Lore, say what is wrong and how to fix it."""
    from lored.api import doctor
    from lored.errors import UsageError

    settings, config_check = doctor.check_config()
    checks = [config_check]
    if settings is not None:
        checks.append(doctor.check_store(settings))
        checks += doctor.check_login_and_key(settings)
    checks += _daemon_and_service()
    doc: dict[str, Any] = {"checks": checks, "repair": None}
    if repair:
        if settings is None:
            raise UsageError("config.toml must be fixed before the store can be rebuilt",
                             hint=config_check["detail"])
        if any(c["check"] == "daemon" and c["status"] == "ok" for c in checks):
            raise UsageError("lored is running and holds sessions.db; nothing was changed",
                             hint="stop it first (`systemctl --user stop lored`), then run "
                                  "`lorectl doctor --repair` again")
        doc["repair"] = run(doctor.repair_store(settings))
        doc["checks"][1] = doctor.check_store(settings)
    failed = any(c["status"] == "fail" for c in doc["checks"])
    doc["ok"] = not failed
    if as_json:
        emit_json(doc)
    else:
        for c in doc["checks"]:
            click.echo(f"[{_MARK[c['status']]}] {c['check']}: {c['detail']}")
            if c["fix"] and c["status"] != "ok":
                click.echo(f"       fix: {c['fix']}")
        rep = doc["repair"]
        if rep:
            if rep["moved_to"]:
                click.echo(f"Moved the damaged store to {rep['moved_to']}.")
            click.echo(f"Rebuilt: {rep['imported']} session(s) captured from the tools' files, "
                       f"{rep['pulled']} pulled from Lore Cloud.")
            if rep["pull_error"]:
                click.echo(f"warning: the pull failed: {rep['pull_error']}", err=True)
    if failed:
        raise SystemExit(1)
