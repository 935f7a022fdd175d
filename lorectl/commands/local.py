"""Local commands: `import`, `sessions list|show|restore`, `search`, `config show`.

They work on this machine's sessions.db through the facade (``lored.api.Lore``, in
process; no daemon, no network). Heavy modules (the facade, rich) are imported inside
the functions so `lorectl status` stays fast.
JSON output follows CLI.md's keys exactly.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from lorectl.common import emit_json, handle_errors, run

if TYPE_CHECKING:
    from lored.api import Lore, Message, SessionRow
    from lored.config import Settings

T = TypeVar("T")


def _with_lore(work: Callable[[Settings, Lore], Awaitable[T]]) -> T:
    """Open the facade in process, run ``work(settings, lore)``, close it."""
    from lored.api import Lore
    from lored.config import load_settings

    settings = load_settings()

    async def main() -> T:
        lore = await Lore.open(settings)
        try:
            return await work(settings, lore)
        finally:
            await lore.close()

    return run(main())


# --- import ----------------------------------------------------------------------------
@click.command("import")
@click.option("--tool", "tool", metavar="T", help="only this tool (claude-code, codex, …)")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
@handle_errors
def import_cmd(tool: str | None, as_json: bool) -> None:
    """One capture pass over every enabled tool's files."""
    report = _with_lore(lambda settings, lore: lore.import_all(tool))
    report.pop("changed", None)
    if as_json:
        emit_json(report)
        return
    click.echo(
        f"Imported {report['imported']}, updated {report['updated']}, "
        f"unchanged {report['unchanged']}."
    )
    if report.get("bad_records"):
        click.echo(f"Skipped {report['bad_records']} unreadable record(s); "
                   "`lorectl sessions show ID --json` has each session's bad_records.")
    for err in report["errors"]:
        click.echo(f"warning: {err['path']}: {err['message']}", err=True)


# --- sessions --------------------------------------------------------------------------
@click.group("sessions")
def sessions_group() -> None:
    """Browse captured sessions (own and pulled)."""


def _machine_label(row: SessionRow, settings: Settings) -> str:
    if row.origin_machine_id == settings.machine_id:
        return "this machine"
    return row.origin_machine_name or row.origin_machine_id[:8]


def _add_deletion_commands() -> None:
    """`sessions delete|undelete|deleted` live in lorectl/commands/keys.py (issue 10)."""
    from lorectl.commands.keys import sessions_delete, sessions_deleted, sessions_undelete
    from lorectl.commands.shares import sessions_share

    for cmd in (sessions_delete, sessions_undelete, sessions_deleted, sessions_share):
        sessions_group.add_command(cmd)


_add_deletion_commands()


@sessions_group.command("list")
@click.option("--tool", metavar="T", help="only sessions of this tool")
@click.option("--project", metavar="P", help="project path contains P")
@click.option("--machine", metavar="M", help="origin machine id (prefix) or name")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="at most N sessions")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@handle_errors
def sessions_list(
    tool: str | None, project: str | None, machine: str | None, limit: int | None,
    as_json: bool,
) -> None:
    """List sessions, newest first."""
    from lorectl import render

    async def work(settings: Settings, lore: Lore) -> tuple[Settings, list[SessionRow]]:
        rows = await lore.list_sessions(tool=tool, project=project, machine=machine,
                                        limit=limit)
        return settings, rows

    settings, rows = _with_lore(work)
    if as_json:
        emit_json([r.to_json() for r in rows])
        return
    if not rows:
        click.echo("No sessions yet. Run `lorectl import` to capture them.")
        return
    render.table(
        ["ID", "TOOL", "PROJECT", "STARTED", "MSGS", "MACHINE", "TITLE"],
        [
            [_short_id(r.id), r.tool, render.truncate(r.project_path or "-", 40),
             render.local_time(r.started_at), r.message_count, _machine_label(r, settings),
             render.truncate(r.title or "", 50)]
            for r in rows
        ],
    )


def _short_id(session_id: str) -> str:
    tool, _, native = session_id.partition(":")
    return f"{tool}:{native[:12]}" if len(native) > 12 else session_id


def _message_json(m: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": m.role, "timestamp": m.timestamp, "text": m.text}
    for key, value in m.extra.items():
        out.setdefault(key, value)
    return out


@sessions_group.command("show")
@click.argument("session_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@handle_errors
def sessions_show(session_id: str, as_json: bool) -> None:
    """Show one session and its messages (a unique id prefix is enough)."""
    from lorectl import render

    async def work(settings: Settings, lore: Lore
                   ) -> tuple[SessionRow, list[Message], str | None]:
        return await lore.show_session(session_id)

    row, messages, parent = _with_lore(work)
    if as_json:
        emit_json({**row.to_json(), "forked_from": parent,
                   "messages": [_message_json(m) for m in messages]})
        return
    out = sys.stdout
    out.write(render.key_values([
        ("Session", row.id),
        ("Title", row.title),
        ("Tool", row.tool),
        ("Project", row.project_path),
        ("Model", row.model),
        ("Started", render.local_time(row.started_at, "%Y-%m-%d %H:%M:%S")),
        ("Ended", render.local_time(row.ended_at, "%Y-%m-%d %H:%M:%S")),
        ("Messages", row.message_count),
        *([("Forked from", parent)] if parent else []),
    ]))
    for m in messages:
        out.write(f"\n[{m.role}] {render.local_time(m.timestamp, '%H:%M:%S')}\n")
        if m.text:
            out.write(m.text.rstrip() + "\n")
        for call in m.extra.get("tool_calls") or []:
            if isinstance(call, dict):
                args = render.truncate(_compact(call.get("input")), 100)
                out.write(f"  → {call.get('name')}({args})\n")


@sessions_group.command("restore")
@click.argument("session_id", metavar="ID")
@click.option("--to", "to", metavar="PATH",
              help="this machine's folder of the session's project (else found by git remote)")
@click.option("--force", is_flag=True, help="replace a different file at the target")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@handle_errors
def sessions_restore(session_id: str, to: str | None, force: bool, as_json: bool) -> None:
    """Put a session back where its tool looks for it, so it can be resumed here.

    Paths are moved from the origin machine's checkout to this machine's; continuing the
    session here makes a new session of this machine (a fork), never changing the origin's.
    """
    result = _with_lore(lambda settings, lore: lore.restore_session(
        session_id, to=to, force=force))
    if result.replaced:
        click.echo(f"warning: replaced {result.path}: it {result.replaced}", err=True)
    if as_json:
        emit_json(result.to_json())
        return
    if result.written:
        click.echo(f"Restored {result.session_id} to {result.path}")
    else:
        click.echo(f"{result.session_id} is already restored at {result.path}")
    how = "" if result.mapping == "--to" else f" (found by {result.mapping})"
    click.echo(f"Project: {result.project_path}{how}")
    if result.remembered:
        click.echo(f"Remembered in config.toml: [projects] {result.remembered!r} = "
                   f"{result.project_path!r}")
    click.echo(f"Resume it with: cd {shlex.quote(result.project_path)} && {result.resume}"
               f"   (or: lorectl resume {result.session_id})")


def _compact(value: Any) -> str:
    import json

    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


# --- search ----------------------------------------------------------------------------
@click.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option("--tool", metavar="T", help="only sessions of this tool")
@click.option("--project", metavar="P", help="only sessions whose project path contains P")
@click.option("--machine", metavar="M", help="only sessions from this machine (id prefix or name)")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
              help="at most N hits")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@handle_errors
def search_cmd(
    query: tuple[str, ...], tool: str | None, project: str | None, machine: str | None,
    limit: int, as_json: bool,
) -> None:
    """Full-text search over the messages of every session, best match first."""
    from lorectl import render

    text = " ".join(query)
    hits = _with_lore(lambda settings, lore: lore.search(
        text, tool=tool, project=project, machine=machine, limit=limit))
    if as_json:
        emit_json(hits)
        return
    if not hits:
        click.echo(f"No messages match {text!r}.")
        return
    render.table(
        ["SESSION", "ROLE", "TIME", "SNIPPET"],
        [[_short_id(h["session_id"]), h["role"], render.local_time(h["timestamp"]),
          render.truncate(h["snippet"], 80)] for h in hits],
    )


# --- config ----------------------------------------------------------------------------
@click.group("config")
def config_group() -> None:
    """Show the configuration."""


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@handle_errors
def config_show(as_json: bool) -> None:
    """Every setting with its effective value, and where Lore keeps its files."""
    from lored.config import load_settings

    settings = load_settings()
    doc = settings.documented()
    doc["paths"] = {
        "config_file": str(settings.paths.config_file),
        "db_file": str(settings.paths.db_file),
        "socket": str(settings.paths.socket_path),
        "log_dir": str(settings.paths.log_dir),
    }
    if as_json:
        emit_json(doc)
        return
    click.echo(_toml_like(doc).rstrip())


def _toml_like(doc: dict[str, Any]) -> str:
    """config.toml-style text: top-level values first, then one [table] per dict."""
    import json

    def fmt(v: Any) -> str:
        return "(unset)" if v is None else json.dumps(v, ensure_ascii=False)

    lines = [f"{k} = {fmt(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for key, table in doc.items():
        if isinstance(table, dict):
            lines.append(f"\n[{key}]")
            lines += [f"{k} = {fmt(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"
