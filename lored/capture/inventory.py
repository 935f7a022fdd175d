"""What `lorectl tools` shows: every tool Lore knows, where it looks, what it found.

The folders are the discovery roots of :mod:`lored.capture.discovery` (the ones that
exist, else the ones Lore would look in). Tools Lore cannot read are listed too, with
the reason, so nobody waits for sessions that will never come.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from lored.capture.discovery import DISCOVERERS, WATCH_ROOTS
from lored.capture.sources import Context
from lored.config import ALL_TOOLS

#: tools whose sessions cannot be read, and why (shown, never captured)
UNREADABLE: dict[str, tuple[str, str]] = {
    "windsurf": (".codeium/windsurf/cascade",
                 "Windsurf encrypts its Cascade conversations at rest (cascade/*.pb); "
                 "Lore cannot read them"),
}


#: where the VS Code-family tools live in a stock VS Code (shown when nothing is found)
_VSCODE = ("Library/Application Support/Code/User" if sys.platform == "darwin"
           else ".config/Code/User")
HINTS: dict[str, str] = {
    "cline": f"{_VSCODE}/globalStorage/saoudrizwan.claude-dev/tasks",
    "roo-code": f"{_VSCODE}/globalStorage/rooveterinaryinc.roo-cline/tasks",
    "kilo-code": f"{_VSCODE}/globalStorage/kilocode.kilo-code/tasks",
    "copilot-chat": f"{_VSCODE}/workspaceStorage",
}


def _roots(ctx: Context, tool: str) -> list[Path]:
    if tool == "aider":
        return [Path(p).expanduser() for p in ctx.settings.aider_roots]
    try:
        return WATCH_ROOTS[tool](ctx)
    except Exception:  # noqa: BLE001 - a broken folder is shown as not found
        return []


def inventory(ctx: Context, counts: dict[str, tuple[int, str | None]]) -> list[dict[str, Any]]:
    """One entry per known tool: ``{"tool","enabled","paths","sessions","last_capture"}``.

    ``counts`` maps tool -> (sessions captured here, newest capture time). Extra keys:
    ``found`` (any folder exists), ``readable`` and, for unreadable tools, ``note``.
    """
    enabled = set(ctx.settings.tools)
    out: list[dict[str, Any]] = []
    for tool in ALL_TOOLS:
        roots = _roots(ctx, tool) if tool in DISCOVERERS else []
        existing = [r for r in roots if r.exists()]
        if not existing and tool in HINTS:
            roots = [ctx.home / HINTS[tool], *roots]
        sessions, last = counts.get(tool, (0, None))
        out.append({"tool": tool, "enabled": tool in enabled,
                    "paths": [str(p) for p in (existing or roots)],
                    "sessions": sessions, "last_capture": last,
                    "found": bool(existing), "readable": True})
    for tool, (rel, note) in UNREADABLE.items():
        path = ctx.home / rel
        out.append({"tool": tool, "enabled": False, "paths": [str(path)], "sessions": 0,
                    "last_capture": None, "found": path.exists(), "readable": False,
                    "note": note})
    return out
