"""What `lorectl mcp --print-config TOOL` prints: how each assistant starts Lore's server."""

from __future__ import annotations

import json
import os
import shutil
import sys

TOOLS = ("claude", "codex", "gemini")


def config_for(tool: str, program: str | None = None) -> str:
    """The command or snippet that registers ``lorectl mcp`` with ``tool``."""
    # the bare name when the assistant will find it on PATH, else this lorectl's own path
    cmd = program or ("lorectl" if shutil.which("lorectl") else os.path.abspath(sys.argv[0]))
    if tool == "claude":
        snippet = json.dumps({"mcpServers": {"lore": {"command": cmd, "args": ["mcp"]}}},
                             indent=2)
        return (f"claude mcp add lore -- {cmd} mcp\n\n"
                f"# or, for one project, in .mcp.json:\n{snippet}\n")
    if tool == "codex":
        return (f"codex mcp add lore -- {cmd} mcp\n\n"
                "# or in ~/.codex/config.toml:\n"
                f'[mcp_servers.lore]\ncommand = "{cmd}"\nargs = ["mcp"]\n')
    if tool == "gemini":
        snippet = json.dumps({"mcpServers": {"lore": {"command": cmd, "args": ["mcp"]}}},
                             indent=2)
        return (f"gemini mcp add lore {cmd} mcp\n\n"
                f"# or in ~/.gemini/settings.json:\n{snippet}\n")
    raise ValueError(tool)
