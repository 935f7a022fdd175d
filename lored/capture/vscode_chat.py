"""Chats kept by VS Code itself and by Cursor: Copilot Chat's session files and Cursor's
``state.vscdb`` (I/O; the parsers are :mod:`copilot` and :mod:`cursor`).

Cursor's database is opened read-only (``mode=ro``), and only ``composerData`` and
``bubbleId`` rows are read: the same database holds Cursor's login tokens.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from pathlib import Path
from typing import Any

from lored.capture import copilot, cursor
from lored.capture.sources import Context, Source, sorted_files
from lored.capture.sqlite_ro import begin_snapshot, connect_ro
from lored.capture.vscode import file_uri_path, load_json, user_dirs


def workspace_folder(ws: Path) -> str | None:
    """The folder a ``workspaceStorage/<hash>`` belongs to (its ``workspace.json``)."""
    doc = load_json(ws / "workspace.json")
    return file_uri_path(doc.get("folder")) if isinstance(doc, dict) else None


# --- Copilot Chat -------------------------------------------------------------------
def _render_copilot(path: Path, folder: str | None) -> list[bytes]:
    if path.suffix == ".jsonl":
        ops = []
        for raw in path.read_bytes().splitlines():
            try:
                ops.append(json.loads(raw))
            except (ValueError, RecursionError):
                continue  # a line still being written: the next change completes it
        session = copilot.replay(ops)
    else:
        session = load_json(path)
    if not isinstance(session, dict) or not session.get("sessionId"):
        return []
    return [copilot.render(session, folder)]


def discover_copilot(ctx: Context) -> list[Source]:
    """One rendered source per chat session file, in every workspace and empty window."""
    out: list[Source] = []
    for user in user_dirs(ctx, ("Code", "Code - Insiders", "VSCodium")):
        folders: list[tuple[Path, str | None]] = [
            (ws / "chatSessions", workspace_folder(ws))
            for ws in sorted((user / "workspaceStorage").glob("*")) if ws.is_dir()]
        folders.append((user / "globalStorage" / "emptyWindowChatSessions", None))
        for chats, folder in folders:
            if not chats.is_dir():
                continue
            files = sorted_files([*chats.glob("*.json"), *chats.glob("*.jsonl")])
            newer = {p.stem for p in files if p.suffix == ".jsonl"}
            for p in files:
                if p.suffix == ".json" and p.stem in newer:
                    continue  # the log supersedes the older snapshot of the same session
                out.append(Source(copilot.TOOL, str(p), (p,), append=False,
                                  render=functools.partial(_render_copilot, p, folder)))
    return out


def copilot_watch_roots(ctx: Context) -> list[Path]:
    """workspaceStorage folders (chat files live two levels below)."""
    return [u / "workspaceStorage" for u in user_dirs(ctx, ("Code", "Code - Insiders", "VSCodium"))]


# --- Cursor -------------------------------------------------------------------------
def cursor_user_dir(ctx: Context) -> Path:
    """Cursor's User folder (``[capture] cursor_dir`` overrides it)."""
    dirs = user_dirs(ctx, ("Cursor",))
    default = dirs[0] if dirs else ctx.home / ".config/Cursor/User"
    return ctx.tool_dir("cursor", None, default)


def _kv(db: sqlite3.Connection, table: str, low: str, high: str) -> list[tuple[str, Any]]:
    return [(str(k), v) for k, v in db.execute(
        f"SELECT key, value FROM {table} WHERE key >= ? AND key < ? ORDER BY key", (low, high))]


def _json(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    try:
        return json.loads(value) if isinstance(value, str) else None
    except (ValueError, RecursionError):
        return None


def _composer_folders(user: Path) -> dict[str, str]:
    """composerId -> project folder, from every workspace's ``composer.composerData``."""
    out: dict[str, str] = {}
    for ws in sorted((user / "workspaceStorage").glob("*")):
        db_path = ws / "state.vscdb"
        folder = workspace_folder(ws) if db_path.is_file() else None
        if folder is None:
            continue
        try:
            db = connect_ro(db_path)
            try:
                row = db.execute("SELECT value FROM ItemTable WHERE key = ?",
                                 ("composer.composerData",)).fetchone()
            finally:
                db.close()
        except sqlite3.Error:
            continue
        doc = _json(row[0]) if row else None
        for c in doc.get("allComposers", []) if isinstance(doc, dict) else []:
            if isinstance(c, dict) and isinstance(c.get("composerId"), str):
                out[c["composerId"]] = folder
    return out


def render_cursor(user: Path) -> list[bytes]:
    """One payload per composer with a conversation in Cursor's global database."""
    folders = _composer_folders(user)
    db = connect_ro(user / "globalStorage" / "state.vscdb")
    try:
        begin_snapshot(db)  # WAL only: a rollback journal keeps each read short
        payloads = []
        for key, value in _kv(db, "cursorDiskKV", "composerData:", "composerData;"):
            composer = _json(value)
            if not isinstance(composer, dict):
                continue  # NULL rows and drafts Cursor never filled
            cid = composer.get("composerId") or key.split(":", 1)[1]
            composer["composerId"] = cid
            headers = composer.get("fullConversationHeadersOnly")
            if isinstance(headers, list) and headers:
                stored = {k.rsplit(":", 1)[1]: _json(v) for k, v in
                          _kv(db, "cursorDiskKV", f"bubbleId:{cid}:", f"bubbleId:{cid};")}
                bubbles = [b for h in headers if isinstance(h, dict)
                           and isinstance(b := stored.get(str(h.get("bubbleId"))), dict)]
            elif isinstance(composer.get("conversation"), list) and composer["conversation"]:
                bubbles = [b for b in composer["conversation"] if isinstance(b, dict)]
            else:
                continue  # an empty draft
            payloads.append(cursor.render(composer, bubbles, folders.get(cid)))
        return payloads
    finally:
        db.close()


def discover_cursor(ctx: Context) -> list[Source]:
    """The global database: one source for all its composers."""
    user = cursor_user_dir(ctx)
    db = user / "globalStorage" / "state.vscdb"
    if not db.is_file():
        return []
    wal = db.with_name(db.name + "-wal")
    files = (db, wal)  # the -wal may hold most rows; it may come and go
    return [Source(cursor.TOOL, str(db), files, append=False,
                   render=functools.partial(render_cursor, user))]
