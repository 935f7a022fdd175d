"""Cloud commands: login, register, logout, push, pull, sync, status, passphrase, unlock.

push/pull/sync/status go through :func:`lorectl.runner.run_op` (daemon first, when that
hook is wired, else in-process). Output: CLI.md's JSON with ``--json``; otherwise short
human lines on stdout and one ``warning: …`` line per skipped or refused session on
stderr. Heavy imports live inside the functions (``lorectl status`` start-up time).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from lorectl.common import emit_json, handle_errors

if TYPE_CHECKING:
    from lored.config import Settings

_JSON = click.option("--json", "as_json", is_flag=True, help="print JSON (CLI.md keys)")


def _settings() -> Settings:
    from lored.config import load_settings

    return load_settings()


def _size(n: Any) -> str:
    from lorectl.render import human_size

    return str(human_size(n if isinstance(n, int | float) else 0))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# --- account ------------------------------------------------------------------------
def _account_options(func: Any) -> Any:
    func = click.option("--insecure-http", is_flag=True,
                        help="allow plain http:// to a non-loopback host")(func)
    func = click.option("--password-stdin", is_flag=True,
                        help="read the account password from stdin")(func)
    func = click.option("--email", metavar="E", help="account email")(func)
    func = click.option("--server", metavar="URL", envvar="LORE_SERVER",
                        help="Lore Cloud URL (default: $LORE_SERVER, then config.toml)")(func)
    return _JSON(func)


def _login(server: str | None, email: str | None, password_stdin: bool, insecure_http: bool,
           as_json: bool, *, register: bool, machine_name: str | None = None) -> None:
    from lorectl.common import ask_secret, read_stdin_secret
    from lorectl.runner import PROMPT_PASSWORD, with_lore
    from lored.errors import UsageError

    settings = _settings()
    server = server or settings.server_url
    if not server:
        raise UsageError("no server given", hint="pass --server URL or set LORE_SERVER")
    if not email:
        raise UsageError("no email given", hint="pass --email you@example.com")
    if password_stdin:
        password = read_stdin_secret()
    else:
        password = ask_secret("LORE_PASSWORD", PROMPT_PASSWORD,
                              confirm="Confirm password:" if register else None)
    if not password:
        raise UsageError("the password is empty")
    doc = with_lore(settings, lambda lore: lore.login(
        server, email, password, insecure_http=insecure_http, register=register,
        machine_name=machine_name))
    if as_json:
        emit_json(doc)
        return
    if register:
        click.echo(f"Created account {doc['email']}.")
    name = doc.get("machine_name") or settings.machine_name
    click.echo(f"Logged in to {doc['server']} as {doc['email']} "
               f"(machine {name}, id {settings.machine_id[:8]}).")
    others = int(doc.get("same_name") or 0)
    if others:
        click.echo(f"note: {_plural(others, 'other machine')} of this account "
                   f"{'is' if others == 1 else 'are'} also called {name!r}; listings add "
                   "an id fragment. Rename this one with `lorectl machine rename NAME`.",
                   err=True)


@click.command("login")
@_account_options
@click.option("--machine-name", metavar="NAME",
              help="name this machine (default: config.toml's machine_name, the hostname)")
@handle_errors
def login_cmd(server: str | None, email: str | None, password_stdin: bool,
              insecure_http: bool, as_json: bool, machine_name: str | None) -> None:
    """Log in to Lore Cloud; registers this machine and stores its token (0600)."""
    _login(server, email, password_stdin, insecure_http, as_json, register=False,
           machine_name=machine_name)


@click.command("register")
@_account_options
@handle_errors
def register_cmd(server: str | None, email: str | None, password_stdin: bool,
                 insecure_http: bool, as_json: bool) -> None:
    """Create an account (where the server allows it), then log in."""
    _login(server, email, password_stdin, insecure_http, as_json, register=True)


@click.command("logout")
@_JSON
@handle_errors
def logout_cmd(as_json: bool) -> None:
    """Revoke the token, delete it and the cached key; local sessions stay."""
    from lorectl.runner import with_lore

    doc = with_lore(_settings(), lambda lore: lore.logout())
    if as_json:
        emit_json(doc)
        return
    if doc.get("revoke_error"):
        click.echo(f"warning: the token could not be revoked on the server "
                   f"({doc['revoke_error']}); it was deleted here", err=True)
    click.echo("Logged out. Local sessions are kept." if doc.get("logged_out")
               else "Not logged in. Local sessions are kept.")


# --- transfers ----------------------------------------------------------------------
def _push_lines(doc: dict[str, Any]) -> None:
    for skip in doc.get("skipped") or []:
        click.echo(f"warning: {skip.get('message')}", err=True)
    if doc.get("dry_run"):
        ids = doc.get("sessions") or []
        planned = doc.get("planned") or [{"session_id": sid} for sid in ids]
        click.echo(f"Would push {_plural(len(ids), 'session')} "
                   f"({_size(doc.get('bytes_planned'))} before compression)"
                   + (":" if planned else "."))
        for row in planned:
            click.echo(_planned_line(row))
        return
    n = int(doc.get("pushed") or 0)
    skipped = len(doc.get("skipped") or [])
    if n:
        click.echo(f"Pushed {_plural(n, 'session')} ({_size(doc.get('bytes_uploaded'))}).")
    elif skipped:
        click.echo(f"Nothing pushed: {_plural(skipped, 'session')} skipped (see above).")
    else:
        click.echo("Nothing to push.")


def _planned_line(row: dict[str, Any]) -> str:
    """``  3f2b9c1e  claude-code    4.1 KB  Fix the pagination bug`` in 80 columns."""
    from pathlib import PurePath

    from lorectl.render import truncate

    sid = str(row.get("session_id") or "")
    short = sid.split(":", 1)[-1][:8]
    title = row.get("title") or (PurePath(row["project_path"]).name
                                 if row.get("project_path") else "(untitled)")
    head = f"  {short:<8}  {str(row.get('tool') or ''):<11} {_size(row.get('bytes')):>9}  "
    return head + truncate(" ".join(str(title).split()), 80 - len(head))


def _pull_lines(doc: dict[str, Any]) -> None:
    for fail in doc.get("failed") or []:
        click.echo(f"warning: {fail.get('message')}", err=True)
    n = int(doc.get("pulled") or 0)
    click.echo(f"Pulled {_plural(n, 'session')} ({_size(doc.get('bytes_downloaded'))})."
               if n else "Nothing new to pull.")


def _check_failed(doc: dict[str, Any]) -> None:
    """Refused sessions on pull make the command fail after everything else was stored."""
    from lored.errors import LoreError

    failed = doc.get("failed") or []
    if failed:
        raise LoreError(f"{_plural(len(failed), 'session')} could not be pulled; "
                        "every other session was stored",
                        hint="the warnings above say why; the next pull retries them")


@click.command("push")
@click.option("--dry-run", is_flag=True, help="list what would be uploaded; upload nothing")
@_JSON
@handle_errors
def push_cmd(dry_run: bool, as_json: bool) -> None:
    """Upload new and changed local sessions; the first push sets up encryption."""
    from lorectl.runner import run_op

    doc = run_op(_settings(), "push", dry_run=dry_run, progress=None if not as_json else False)
    if as_json:
        emit_json(doc)
    else:
        _push_lines(doc)


@click.command("pull")
@click.option("--all", "all_", is_flag=True, help="re-check everything from the beginning")
@_JSON
@handle_errors
def pull_cmd(all_: bool, as_json: bool) -> None:
    """Download other machines' sessions since the last pull."""
    from lorectl.runner import run_op

    doc = run_op(_settings(), "pull", all=all_, progress=None if not as_json else False)
    if as_json:
        emit_json(doc)
    else:
        _pull_lines(doc)
    _check_failed(doc)


@click.command("sync")
@_JSON
@handle_errors
def sync_cmd(as_json: bool) -> None:
    """Pull, then push."""
    from lorectl.runner import run_op

    doc = run_op(_settings(), "sync", progress=None if not as_json else False)
    if as_json:
        emit_json(doc)
    else:
        _pull_lines(doc.get("pull") or {})
        _push_lines(doc.get("push") or {})
    _check_failed(doc.get("pull") or {})


# --- status -------------------------------------------------------------------------
def render_status(doc: dict[str, Any]) -> str:
    """CLI.md's status layout as text."""
    from lorectl.render import human_time, key_values

    out = ["Cloud Sync\n", "Account:\n"]
    account, cloud, local = doc.get("account"), doc.get("cloud"), doc.get("local") or {}
    error = doc.get("cloud_error")
    if not account:
        out.append("  Not logged in (run `lorectl login --server URL --email "
                   "you@example.com`)\n")
    else:
        out.append(key_values([("Email", account.get("email")),
                               ("Plan", account.get("plan") or "unknown")], indent=2))
    out.append("Cloud:\n")
    if cloud:
        out.append(key_values([
            ("Sessions", cloud.get("sessions")),
            ("Storage", _size(cloud.get("storage_bytes"))),
            ("Last sync", human_time(cloud.get("last_sync"))),
        ], indent=2))
    elif not account:
        out.append("  Not connected (log in first)\n")
    else:
        msg = (error or {}).get("message") or "unavailable"
        hint = (error or {}).get("hint")
        out.append(f"  Unavailable: {msg}\n" + (f"  ({hint})\n" if hint else ""))
    nxt = local.get("next_auto_sync")
    out.append("Local:\n")
    out.append(key_values([
        ("Total sessions", local.get("total_sessions")),
        ("Pending sync", local.get("pending_sync")),
        *([("Too large to sync", local["skipped_too_large"])]
          if local.get("skipped_too_large") else []),
        *([("Indexing", f"{local['index_pending']} sessions pending")]
          if local.get("index_pending") else []),
        ("Last sync", human_time(local.get("last_sync"))),
        ("Next auto-sync", human_time(nxt) if nxt else "Not scheduled"),
    ], indent=2))
    return "".join(out)


@click.command("status")
@_JSON
@handle_errors
def status_cmd(as_json: bool) -> None:
    """Account, cloud and local sync status."""
    from lorectl.runner import run_op

    doc = run_op(_settings(), "status", progress=False)
    if as_json:
        emit_json(doc)
    else:
        click.echo(render_status(doc), nl=False)


# --- keys ---------------------------------------------------------------------------
@click.group("passphrase")
def passphrase_group() -> None:
    """Manage the encryption passphrase."""


@passphrase_group.command("change")
@_JSON
@handle_errors
def passphrase_change_cmd(as_json: bool) -> None:
    """Re-wrap the data key under a new passphrase (nothing is re-encrypted).

    Non-interactive: LORE_PASSPHRASE (current) and LORE_NEW_PASSPHRASE (new).
    """
    from lorectl.common import ask_secret
    from lorectl.runner import with_lore
    from lored.api import MIN_PASSPHRASE_LEN

    current = ask_secret("LORE_PASSPHRASE", "Current passphrase:")
    new = ask_secret("LORE_NEW_PASSPHRASE", "New passphrase:", confirm="Confirm new passphrase:",
                     min_len=MIN_PASSPHRASE_LEN)
    doc = with_lore(_settings(), lambda lore: lore.change_passphrase(current, new))
    if as_json:
        emit_json(doc)
    else:
        click.echo("Passphrase changed. Other machines keep working; use the new passphrase "
                   "to unlock new ones.")


@click.command("unlock")
@_JSON
@handle_errors
def unlock_cmd(as_json: bool) -> None:
    """Enter the account's passphrase and replace this machine's cached key."""
    from lorectl.runner import with_lore

    doc = with_lore(_settings(), lambda lore: lore.unlock())
    if as_json:
        emit_json(doc)
    else:
        click.echo(f"Unlocked (key {doc['key_id'][:8]}…).")

