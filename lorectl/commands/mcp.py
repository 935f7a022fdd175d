"""`lorectl mcp [--print-config claude|codex|gemini]`: the assistant's door to the archive.

Without options it serves the Model Context Protocol over stdio (read-only, own and
pulled sessions) until stdin closes; `--print-config` prints how to register it.
"""

from __future__ import annotations

import click

from lorectl.common import handle_errors


@click.command("mcp")
@click.option("--print-config", "print_config", type=click.Choice(["claude", "codex", "gemini"]),
              help="print how to register the server with this assistant, then exit")
@handle_errors
def mcp_cmd(print_config: str | None) -> None:
    """Serve your sessions from every machine to an AI assistant (MCP over stdio)."""
    from lored.api import mcp_config, serve_mcp

    if print_config:
        click.echo(mcp_config(print_config), nl=False)
        return
    from lored.config import load_settings

    status = serve_mcp(load_settings())
    if status:
        raise SystemExit(status)
