"""`lorectl tools [--json]`: which AI coding tools Lore captures, where, and how many.

JSON: ``[{"tool","enabled","paths":[…],"sessions","last_capture"}, …]`` (plus
``found``, ``readable`` and, for a tool Lore cannot read, ``note``).
"""

from __future__ import annotations

import click

from lorectl.common import emit_json, handle_errors


@click.command("tools")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@handle_errors
def tools_cmd(as_json: bool) -> None:
    """List the tools Lore knows: enabled, folders, sessions captured here, last capture."""
    from lorectl import render
    from lorectl.commands.local import _with_lore

    rows = _with_lore(lambda settings, lore: lore.tools())
    if as_json:
        emit_json(rows)
        return
    render.table(
        ["TOOL", "ENABLED", "SESSIONS", "LAST CAPTURE", "FOLDER"],
        [[r["tool"], "yes" if r["enabled"] else "no", r["sessions"],
          render.local_time(r["last_capture"]) if r["last_capture"] else "-",
          render.truncate((r["paths"][0] if r["paths"] else "-")
                          + ("" if r["found"] else " (not found)"), 60)]
         for r in rows],
    )
    for r in rows:
        if not r["readable"]:
            click.echo(f"{r['tool']}: {r['note']}.")
