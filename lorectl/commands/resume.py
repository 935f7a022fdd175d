"""`lorectl resume ID`: continue a session on this machine, in its own tool.

Restores the session where its tool looks (if it is not there yet), maps its project
to this machine's checkout, then replaces this process with the tool's own resume
command in that folder, so the terminal belongs to the tool. ``--print`` and ``--json``
say what would run instead of running it.
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any

import click

from lorectl.common import emit_json, handle_errors, run


@click.command("resume")
@click.argument("session_id", metavar="ID")
@click.option("--to", "to", metavar="PATH",
              help="this machine's folder of the project (remembered in [projects])")
@click.option("--force", is_flag=True,
              help="replace a different file at the target (the old one kept as .bak)")
@click.option("--print", "print_only", is_flag=True,
              help="print the folder and command instead of running them")
@click.option("--json", "as_json", is_flag=True,
              help='print {"session_id","tool","cwd","command","restored_to"}, run nothing')
@handle_errors
def resume_cmd(session_id: str, to: str | None, force: bool, print_only: bool,
               as_json: bool) -> None:
    """Continue a session here: restore it, then run its tool's resume command.

    Works for sessions captured on any of your machines (pull them first), for Claude
    Code, Codex, Gemini CLI, OpenCode and Aider.
    """
    from lored.api import Lore
    from lored.config import load_settings

    settings = load_settings()
    execute = not (print_only or as_json)

    async def main() -> dict[str, Any]:
        lore = await Lore.open(settings)
        try:
            return await lore.resume_session(session_id, to=to, force=force,
                                             check_program=execute)
        finally:
            await lore.close()

    plan = run(main())
    if as_json:
        emit_json({k: plan[k] for k in ("session_id", "tool", "cwd", "command",
                                        "restored_to")})
        return
    line = f"cd {shlex.quote(plan['cwd'])} && {shlex.join(plan['command'])}"
    if print_only:
        click.echo(line)
        return
    verb = "Restored to" if plan["written"] else "Already at"
    click.echo(f"{verb} {plan['restored_to']}", err=True)
    click.echo(f"Resuming in {plan['cwd']}: {shlex.join(plan['command'])}", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(plan["cwd"])
    # the terminal now belongs to the tool (argv from our own table, no shell involved)
    os.execv(plan["program"], plan["command"])  # noqa: S606
