"""The table of capture tools: how to find each tool's sources and which folders to watch."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from lored.capture import dotdirs, opencode_io, sources, vscode, vscode_chat
from lored.capture.sources import Context, Source
from lored.config import ALL_TOOLS
from lored.errors import UsageError

Discoverer = Callable[[Context], list[Source]]
RootsOf = Callable[[Context], list[Path]]

#: tool -> discovery function
DISCOVERERS: dict[str, Discoverer] = {
    "claude-code": sources.discover_claude,
    "codex": sources.discover_codex,
    "gemini": sources.discover_gemini,
    "aider": sources.discover_aider,
    "opencode": opencode_io.discover,
    **{t: functools.partial(vscode.discover_tasks, t) for t in vscode.EXTENSIONS},
    "continue": dotdirs.discover_continue,
    "copilot-chat": vscode_chat.discover_copilot,
    "cursor": vscode_chat.discover_cursor,
    "goose": dotdirs.discover_goose,
    "qwen": dotdirs.discover_qwen,
    "droid": dotdirs.discover_droid,
}

#: tool -> directories worth watching for changes (they may not exist yet)
WATCH_ROOTS: dict[str, RootsOf] = {
    "claude-code": lambda ctx: [sources.claude_root(ctx)],
    "codex": lambda ctx: [
        sources.codex_home(ctx) / "sessions",
        sources.codex_home(ctx) / "archived_sessions",
    ],
    "gemini": lambda ctx: [sources.gemini_home(ctx) / "tmp"],
    # project roots are whole repositories: too big to watch recursively, so Aider's
    # history files are polled instead (see POLLED and CaptureWatcher)
    "aider": lambda ctx: [],
    "opencode": opencode_io.watch_roots,
    **{t: functools.partial(vscode.task_watch_roots, t) for t in vscode.EXTENSIONS},
    "continue": lambda ctx: [dotdirs.continue_home(ctx) / "sessions"],
    "copilot-chat": vscode_chat.copilot_watch_roots,
    "cursor": lambda ctx: [vscode_chat.cursor_user_dir(ctx) / "globalStorage"],
    "goose": lambda ctx: [dotdirs.goose_sessions_dir(ctx)],
    "qwen": lambda ctx: [dotdirs.qwen_projects(ctx)],
    "droid": lambda ctx: [dotdirs.droid_sessions(ctx)],
}


#: tools whose sources are cheap to stat but whose folders should not be watched
POLLED = frozenset({"aider"})


def selected_tools(ctx: Context, tool: str | None) -> list[str]:
    """The tools to scan: ``tool`` when given (explicit beats config), else the enabled ones.

    Raises UsageError for a tool name Lore does not know.
    """
    if tool is not None:
        if tool not in ALL_TOOLS:
            raise UsageError(
                f"unknown tool {tool!r}", hint=f"choose one of: {', '.join(ALL_TOOLS)}"
            )
        return [tool] if tool in DISCOVERERS else []
    return [t for t in ctx.settings.tools if t in DISCOVERERS]


def watch_roots(ctx: Context, tools: list[str]) -> dict[Path, str]:
    """Existing directories to watch, each mapped to its tool."""
    out: dict[Path, str] = {}
    for tool in tools:
        for root in WATCH_ROOTS[tool](ctx):
            if root.is_dir():
                out[root] = tool
    return out
