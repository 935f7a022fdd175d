"""`lorectl secrets scan|redact`: secrets in the archive, and redacting sessions already
captured and pushed (issue 17).

`scan --json`: ``{"findings":[{"session_id","kind","count","first_line"}],
"sessions_scanned"}`` — never the secret itself, not even partly.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from lorectl.common import emit_json, handle_errors

_SESSION = click.option("--session", "session", metavar="ID",
                        help="only this session (a unique id prefix is enough)")
_JSON = click.option("--json", "as_json", is_flag=True, help="print JSON")


@click.group("secrets")
def secrets_group() -> None:
    """Find API keys, tokens and private keys in captured sessions; redact them."""


def _settings() -> Any:
    from lored.config import load_settings

    return load_settings()


@secrets_group.command("scan")
@_SESSION
@_JSON
@handle_errors
def scan_cmd(session: str | None, as_json: bool) -> None:
    """Count the secrets each session holds here (kind, count, first line; never the
    secret), with the current [privacy] rules."""
    from lorectl import render
    from lorectl.runner import with_lore

    doc = with_lore(_settings(), lambda lore: lore.secrets_scan(session))
    if as_json:
        emit_json(doc)
        return
    found = doc["findings"]
    if not found:
        click.echo(f"No secrets found in {doc['sessions_scanned']} session(s).")
        return
    render.table(["SESSION", "KIND", "COUNT", "FIRST LINE"],
                 [[render.truncate(f["session_id"], 40), f["kind"], f["count"],
                   f["first_line"]] for f in found])
    sessions = len({f["session_id"] for f in found})
    click.echo(f"{sum(f['count'] for f in found)} secret(s) in {sessions} of "
               f"{doc['sessions_scanned']} session(s). What leaves this machine is redacted "
               "unless [privacy] redact = \"off\"; `lorectl secrets redact` re-sends "
               "sessions pushed before.")


@secrets_group.command("redact")
@_SESSION
@click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation")
@_JSON
@handle_errors
def redact_cmd(session: str | None, yes: bool, as_json: bool) -> None:
    """Apply the current rules to sessions already captured: a new redacted generation
    upstream; with redact = "everywhere" the copy here is rewritten too."""
    from lorectl.runner import run_op, with_lore
    from lored.errors import LoreError, UsageError

    settings = _settings()
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("secrets redact rewrites sessions and needs confirmation",
                             hint="add --yes to run it without a terminal")
        what = f"session {session}" if session else "every session captured here"
        if not click.confirm(f"Redact secrets in {what} (mode {settings.privacy_redact!r})?",
                             err=True):
            raise SystemExit(1)
    doc = with_lore(settings, lambda lore: lore.secrets_redact(session))
    doc["pushed"] = False
    if doc["marked_for_push"] and settings.paths.token_file.exists():
        try:
            push = run_op(settings, "push", progress=False)
            doc["pushed"] = True
            doc["push"] = push
        except LoreError as exc:  # marked: the next sync uploads them
            doc["push_error"] = exc.message
    if as_json:
        emit_json(doc)
        return
    click.echo(f"{doc['sessions_with_secrets']} of {doc['sessions_scanned']} session(s) "
               "hold secrets.")
    if doc["rewritten_locally"]:
        click.echo(f"Rewritten here: {doc['rewritten_locally']} (redact = \"everywhere\").")
    if doc["marked_for_push"]:
        if doc["pushed"]:
            click.echo(f"Uploaded as new redacted generations: {doc['marked_for_push']}.")
        else:
            click.echo(f"Marked for the next push: {doc['marked_for_push']}"
                       + (f" ({doc['push_error']})" if doc.get("push_error") else "") + ".")
