"""Key management and deletion commands (issue 10).

- ``lorectl key export`` / ``key import``: the data key's printable recovery form;
- ``lorectl cloud reset``: erase the account's cloud data after typing its email;
- ``lorectl sessions delete ID [--everywhere]`` / ``undelete ID`` / ``deleted``
  (registered on the ``sessions`` group in :mod:`lorectl.commands.local`).

Heavy imports live inside the functions (start-up time of light commands).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from lorectl.common import emit_json, handle_errors

_JSON = click.option("--json", "as_json", is_flag=True, help="print JSON")


def _settings() -> Any:
    from lored.config import load_settings

    return load_settings()


def _confirm_tty(prompt: str) -> str:
    """A typed confirmation from the terminal (never from a pipe: that is what flags are for)."""
    from lored.errors import UsageError

    if not sys.stdin.isatty():
        raise UsageError("confirmation needed but there is no terminal to ask",
                         hint="pass the confirmation flag for scripts (see --help)")
    return str(click.prompt(prompt, err=True, default="", show_default=False))


# --- key export / import ------------------------------------------------------------
@click.group("key")
def key_group() -> None:
    """The account's data key in printable recovery form."""


@key_group.command("export")
@_JSON
@handle_errors
def key_export_cmd(as_json: bool) -> None:
    """Print the data key's recovery form (keep it like a password: it opens every session).

    It keeps working after a passphrase change; only `lorectl cloud reset` replaces it.
    """
    from lorectl.runner import with_lore
    doc = with_lore(_settings(), lambda lore: lore.export_key())
    if as_json:
        emit_json(doc)
        return
    click.echo("Recovery key (anyone holding it can read all your sessions; store it "
               "offline):", err=True)
    click.echo(doc["recovery_key"])
    click.echo(f"Key id: {doc['key_id']}", err=True)


@key_group.command("import")
@click.option("--stdin", "from_stdin", is_flag=True, help="read the recovery key from stdin")
@_JSON
@handle_errors
def key_import_cmd(from_stdin: bool, as_json: bool) -> None:
    """Replace this machine's cached key with a recovery key (checked against Lore Cloud).

    The key is read from stdin (--stdin), LORE_RECOVERY_KEY, or asked on the terminal;
    never from the command line, where other users could see it.
    """
    from lorectl.common import ask_secret
    from lorectl.runner import with_lore
    from lored.errors import UsageError

    if from_stdin:
        text = sys.stdin.read()
    else:
        text = ask_secret("LORE_RECOVERY_KEY", "Recovery key:")
    if not text.strip():
        raise UsageError("the recovery key is empty")
    doc = with_lore(_settings(), lambda lore: lore.import_key(text))
    if as_json:
        emit_json(doc)
    else:
        click.echo(f"Recovery key imported (key {doc['key_id'][:8]}…). This machine can "
                   "sync now.")


# --- cloud reset -----------------------------------------------------------------------
@click.command("reset")
@click.option("--confirm", "confirm", metavar="EMAIL",
              help="the account's email, for scripts (otherwise typed at a prompt)")
@_JSON
@handle_errors
def cloud_reset_cmd(confirm: str | None, as_json: bool) -> None:
    """Erase every session and the encryption key on Lore Cloud (local sessions stay).

    Other machines are told on their next sync; set up again with `lorectl push`.
    """
    from lorectl.runner import with_lore
    from lored.api import load_creds_or_none

    settings = _settings()
    creds = load_creds_or_none(settings)
    if confirm is None:
        if creds is not None:
            click.echo(f"This erases every session and the encryption key of {creds.email} "
                       f"on {creds.server_url}. Sessions on your machines are kept.", err=True)
        confirm = _confirm_tty("Type the account's email to confirm")
    doc = with_lore(settings, lambda lore: lore.reset_cloud(confirm or ""))
    if as_json:
        emit_json(doc)
        return
    click.echo(f"Erased {doc['erased']} session(s) and the encryption key of {doc['email']} "
               f"on Lore Cloud; {doc['local_sessions']} local session(s) kept.")
    click.echo("Run `lorectl push` to set up encryption again with a new passphrase and "
               "upload this machine's sessions; other machines then run `lorectl unlock`.")


# --- sessions delete / undelete ------------------------------------------------------------
@click.command("delete")
@click.argument("session_id", metavar="ID")
@click.option("--everywhere", is_flag=True,
              help="also delete it on Lore Cloud; every machine removes it on its next pull")
@click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation")
@_JSON
@handle_errors
def sessions_delete(session_id: str, everywhere: bool, yes: bool, as_json: bool) -> None:
    """Delete a session here (capture and pull will not bring it back), or everywhere."""
    from lorectl.runner import with_lore

    if not yes and sys.stdin.isatty():
        where = "on every machine and on Lore Cloud" if everywhere else "on this machine"
        if not click.confirm(f"Delete session {session_id} {where}?", err=True):
            raise SystemExit(1)
    doc = with_lore(_settings(),
                    lambda lore: lore.delete_session(session_id, everywhere=everywhere))
    if as_json:
        emit_json(doc)
    elif everywhere:
        click.echo(f"Deleted {doc['session_id']} here and on Lore Cloud; other machines "
                   "remove it on their next pull.")
    else:
        click.echo(f"Deleted {doc['session_id']} on this machine (Lore Cloud and other "
                   "machines keep it; add --everywhere to delete it there too).")


@click.command("undelete")
@click.argument("session_id", metavar="ID")
@_JSON
@handle_errors
def sessions_undelete(session_id: str, as_json: bool) -> None:
    """Bring back a session deleted here: capture it again and push it as a new generation."""
    from lorectl.runner import with_lore

    doc = with_lore(_settings(), lambda lore: lore.undelete_session(session_id))
    if as_json:
        emit_json(doc)
    elif doc["captured"]:
        click.echo(f"Restored {session_id} from its file; the next push uploads it again.")
    else:
        click.echo(f"Undeleted {session_id}; the next pull fetches it again if another "
                   "machine still has it on Lore Cloud.")


@click.command("deleted")
@_JSON
@handle_errors
def sessions_deleted(as_json: bool) -> None:
    """Sessions deleted on this machine on purpose."""
    from lorectl.runner import with_lore
    rows = with_lore(_settings(), lambda lore: lore.deleted_sessions())
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        click.echo(f"{r['session_id']}  deleted {r['deleted_at']}")
    if not rows:
        click.echo("No deleted sessions.")
