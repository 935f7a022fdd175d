"""Where VS Code and its forks keep extension data, and the Cline-family task folders (I/O).

VS Code forks share one layout: a ``User`` folder (Linux ``~/.config/<App>/User``, macOS
``~/Library/Application Support/<App>/User``, remote hosts ``~/.vscode-server/data/User``)
holding ``globalStorage/<extension id>/`` and ``workspaceStorage/<hash>/``. Cline, Roo
Code and Kilo Code keep one folder per task under ``globalStorage/<id>/tasks/``; Cline
4.x moved new tasks to ``~/.cline/data/sessions``. Each task becomes one rendered
source (its files are rewritten whole on every change).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from lored.capture import cline, opencode_io
from lored.capture._common import uri_path
from lored.capture.sources import Context, Source, sorted_files

#: the VS Code family's application folder names
APPS = ("Code", "Code - Insiders", "VSCodium", "Cursor", "Windsurf", "Kiro", "Trae")
#: remote and container hosts keep a User folder of their own
REMOTE = (".vscode-server/data/User", ".vscode-server-insiders/data/User",
          ".vscode-remote/data/User", ".cursor-server/data/User",
          ".windsurf-server/data/User")
#: tool -> its extension id (as it appears on disk, lower case)
EXTENSIONS = {"cline": "saoudrizwan.claude-dev", "roo-code": "rooveterinaryinc.roo-cline",
              "kilo-code": "kilocode.kilo-code"}
_TASK_FILES = ("api_conversation_history.json", "ui_messages.json", "task_metadata.json",
               "history_item.json")


def user_dirs(ctx: Context, apps: tuple[str, ...] = APPS) -> list[Path]:
    """Every existing VS Code-family ``User`` folder (``$VSCODE_USER_DIRS`` adds more)."""
    home = ctx.home
    xdg = Path(ctx.env["XDG_CONFIG_HOME"]) if ctx.env.get("XDG_CONFIG_HOME") else home / ".config"
    found: list[Path] = []
    for app in apps:
        found.append(xdg / app / "User")
        found.append(home / "Library/Application Support" / app / "User")
    found += [home / r for r in REMOTE]
    extra = ctx.env.get("VSCODE_USER_DIRS", "")
    found += [Path(p).expanduser() for p in extra.split(":") if p]
    seen: list[Path] = []
    for d in found:
        if d.is_dir() and d not in seen:
            seen.append(d)
    return seen


#: a folder from a file:// URI or a plain path
file_uri_path = uri_path


def load_json(path: Path) -> Any:
    """A JSON file's value, or None when it is missing or not (yet) valid JSON."""
    try:
        return json.loads(path.read_bytes().decode("utf-8", errors="replace"))
    except (OSError, ValueError, RecursionError):
        return None


# --- Cline, Roo Code, Kilo Code --------------------------------------------------------
def task_roots(ctx: Context, tool: str) -> list[Path]:
    """The ``tasks`` folders of ``tool`` in every User folder (and its configured dir)."""
    ext = EXTENSIONS[tool]
    roots = [d / "globalStorage" / ext / "tasks" for d in user_dirs(ctx)]
    override = ctx.tool_dir(tool, None, Path())
    if override != Path():
        roots.insert(0, override / "tasks" if (override / "tasks").is_dir() else override)
    return roots


def cline_home(ctx: Context) -> Path:
    """Cline 4.x's data folder: ``$CLINE_DATA_DIR``, ``$CLINE_DIR/data``, ``~/.cline/data``."""
    if ctx.env.get("CLINE_DATA_DIR"):
        return Path(ctx.env["CLINE_DATA_DIR"]).expanduser()
    base = ctx.home / ".cline"
    if ctx.env.get("CLINE_DIR"):
        base = Path(ctx.env["CLINE_DIR"]).expanduser()
    return base / "data"


def kilo_data_dir(ctx: Context) -> Path:
    """Kilo's data folder (``kilo.db``): the XDG data home's ``kilo``."""
    xdg = ctx.env.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else ctx.home / ".local/share") / "kilo"


def _history_index(task_root: Path) -> dict[str, dict[str, Any]]:
    """Cline's ``state/taskHistory.json`` (id -> HistoryItem): the task's folder lives there."""
    doc = load_json(task_root.parent / "state" / "taskHistory.json")
    items = doc if isinstance(doc, list) else []
    return {str(i.get("id")): i for i in items if isinstance(i, dict)}


def _render_task(tool: str, folder: Path, index: dict[str, dict[str, Any]]) -> list[bytes]:
    docs = {name: load_json(folder / name) for name in _TASK_FILES}
    api = docs["api_conversation_history.json"]
    if not isinstance(api, list):
        return []  # being written for the first time: the next change brings it
    history = docs["history_item.json"] or index.get(folder.name)
    return [cline.render(tool, folder.name, api=api, ui=docs["ui_messages.json"],
                         metadata=docs["task_metadata.json"], history=history)]


def _render_v4(folder: Path) -> list[bytes]:
    sid = folder.name
    manifest = load_json(folder / f"{sid}.json")
    messages = load_json(folder / f"{sid}.messages.json")
    if not isinstance(messages, dict | list):
        return []
    return [cline.render("cline", sid, api=messages,
                         manifest=manifest if isinstance(manifest, dict) else None)]


def discover_tasks(tool: str, ctx: Context) -> list[Source]:
    """One rendered source per task folder of ``tool`` (Cline 4.x sessions too)."""
    out: list[Source] = []
    for root in task_roots(ctx, tool):
        if not root.is_dir():
            continue
        index = _history_index(root) if tool == "cline" else {}
        for api in sorted_files(root.glob("*/api_conversation_history.json")):
            folder = api.parent
            files = tuple(f for f in (folder / n for n in _TASK_FILES) if f.is_file())
            out.append(Source(tool, str(api), files, append=False,
                              render=functools.partial(_render_task, tool, folder, index)))
    if tool == "kilo-code":
        db = kilo_data_dir(ctx) / "kilo.db"
        if db.is_file():  # since 2026 Kilo writes OpenCode's schema
            wal = db.with_name(db.name + "-wal")
            out.append(Source(tool, str(db), (db, wal),
                              append=False,
                              render=functools.partial(opencode_io.render_db, db, tool)))
    if tool == "cline":
        sessions = cline_home(ctx) / "sessions"
        if sessions.is_dir():
            for msgs in sorted_files(sessions.glob("*/*.messages.json")):
                folder = msgs.parent
                files = tuple(f for f in (msgs, folder / f"{folder.name}.json") if f.is_file())
                out.append(Source(tool, str(msgs), files, append=False,
                                  render=functools.partial(_render_v4, folder)))
    return out


def task_watch_roots(tool: str, ctx: Context) -> list[Path]:
    """Folders worth watching for ``tool``."""
    roots = task_roots(ctx, tool)
    if tool == "cline":
        roots.append(cline_home(ctx) / "sessions")
    if tool == "kilo-code":
        roots.append(kilo_data_dir(ctx))
    return roots
