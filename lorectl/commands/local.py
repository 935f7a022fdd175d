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
#: `search` counts matches up to this many to say when its answer was cut
SEARCH_COUNT_CAP = 1001


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
    from lorectl.runner import ProgressDisplay, stderr_tty

    # a transient bar on stderr while the tools' files are read (a terminal only)
    with ProgressDisplay(enabled=not as_json and stderr_tty()) as bar:
        report = _with_lore(lambda settings, lore: lore.import_all(
            tool, progress=bar.update, defer_messages=True))
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


def _machine_label(row: SessionRow, settings: Settings, shared: set[str] | None = None
                   ) -> str:
    """"this machine", the origin's name, or ``vm (3f2b9c)`` when names in ``shared``
    belong to several machines (seven cloud VMs all called vm)."""
    if row.origin_machine_id == settings.machine_id:
        return "this machine"
    name = row.origin_machine_name or row.origin_machine_id[:8]
    return f"{name} ({row.origin_machine_id[:6]})" if shared and name in shared else name


def _shared_names(rows: list[SessionRow], settings: Settings) -> set[str]:
    """Names that more than one origin machine among ``rows`` (or this one) uses."""
    owners: dict[str, set[str]] = {settings.machine_name: {settings.machine_id}}
    for r in rows:
        owners.setdefault(r.origin_machine_name or r.origin_machine_id[:8],
                          set()).add(r.origin_machine_id)
    return {name for name, ids in owners.items() if len(ids) > 1}


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
    from lorectl.pager import paged

    shared = _shared_names(rows, settings)
    with paged():
        # one line per session in the screen's width (80 when piped): the title and the
        # project shrink first; ID is a prefix `sessions show` accepts
        render.table(
            ["ID", "TOOL", "STARTED", "MSGS", "MACHINE", "PROJECT", "TITLE"],
            [
                [_short_id(r.id), r.tool, render.short_time(r.started_at), r.message_count,
                 render.truncate(_machine_label(r, settings, shared), 16),
                 _project_name(r.project_path), r.title or ""]
                for r in rows
            ],
            flex=[6, 5],
        )


def _short_id(session_id: str) -> str:
    """The native id's first 8 characters (a prefix `sessions show` resolves)."""
    _, _, native = session_id.partition(":")
    return (native or session_id)[:8]


def _project_name(path: str | None) -> str:
    from pathlib import PurePath

    return PurePath(path).name if path else "-"


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

    async def work(settings: Settings, lore: Lore
                   ) -> tuple[SessionRow, list[Message], str | None]:
        return await lore.show_session(session_id)

    row, messages, parent = _with_lore(work)
    if as_json:
        emit_json({**row.to_json(), "forked_from": parent,
                   "messages": [_message_json(m) for m in messages]})
        return
    from lorectl.pager import paged

    with paged():
        _show_text(row, messages, parent)


def _show_text(row: SessionRow, messages: list[Message], parent: str | None) -> None:
    from lorectl import render

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
    if as_json:
        emit_json(_with_lore(lambda settings, lore: lore.search(
            text, tool=tool, project=project, machine=machine, limit=limit)))
        return
    hits, total = _with_lore(lambda settings, lore: lore.search_counted(
        text, tool=tool, project=project, machine=machine, limit=limit,
        count_up_to=SEARCH_COUNT_CAP))
    if not hits:
        click.echo(f"No messages match {text!r}.")
        return
    from lorectl.pager import paged

    with paged():
        render.table(
            ["SESSION", "ROLE", "TIME", "SNIPPET"],
            [[_short_id(h["session_id"]), h["role"], render.short_time(h["timestamp"]),
              h["snippet"]] for h in hits],
            flex=[3],
        )
        if total > len(hits):
            of = f"{total}" if total < SEARCH_COUNT_CAP else f"more than {SEARCH_COUNT_CAP - 1}"
            click.echo(f"showing {len(hits)} of {of} — use --limit N for more")


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
