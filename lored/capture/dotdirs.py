"""Tools that keep sessions in a folder of their own: Continue, Goose, Qwen Code and
Factory droid (I/O).

Continue rewrites ``<id>.json`` whole on every save; Goose writes SQLite (WAL), which is
opened read-only with its ``-wal`` (``mode=ro``: never ``immutable=1``, which would miss
rows still in the WAL; never a write lock Goose might need). Only conversation rows are
read; the database file itself never leaves the machine.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from pathlib import Path
from typing import Any

from lored.capture import continue_dev, droid, goose, qwen
from lored.capture.sources import Context, Source, sorted_files
from lored.capture.sqlite_ro import begin_snapshot, connect_ro
from lored.capture.vscode import load_json


# --- Continue -----------------------------------------------------------------------
def continue_home(ctx: Context) -> Path:
    """``$CONTINUE_GLOBAL_DIR``, else ``~/.continue``."""
    return ctx.tool_dir("continue", "CONTINUE_GLOBAL_DIR", ctx.home / ".continue")


def _render_continue(path: Path, index_file: Path) -> list[bytes]:
    session = load_json(path)
    if not isinstance(session, dict):
        return []
    entries = load_json(index_file)
    entry = None
    if isinstance(entries, list):
        entry = next((e for e in entries if isinstance(e, dict)
                      and e.get("sessionId") == session.get("sessionId")), None)
    return [continue_dev.render(session, entry)]


def discover_continue(ctx: Context) -> list[Source]:
    """One rendered source per session file (the index is read, not fingerprinted)."""
    folder = continue_home(ctx) / "sessions"
    if not folder.is_dir():
        return []
    index = folder / "sessions.json"
    return [Source(continue_dev.TOOL, str(p), (p,), append=False,
                   render=functools.partial(_render_continue, p, index))
            for p in sorted_files(folder.glob("*.json")) if p.name != "sessions.json"]


# --- Goose --------------------------------------------------------------------------
def goose_sessions_dir(ctx: Context) -> Path:
    """``$GOOSE_PATH_ROOT/data/sessions``, else the XDG data home's ``goose/sessions``.

    Goose ignores a relative ``GOOSE_PATH_ROOT`` (block/goose
    ``crates/goose/src/config/paths.rs``, ``validated_path_root``), and so does Lore.
    """
    root = Path(ctx.env.get("GOOSE_PATH_ROOT") or "")
    if root.is_absolute():
        return root / "data" / "sessions"
    xdg = ctx.env.get("XDG_DATA_HOME")
    default = (Path(xdg) if xdg else ctx.home / ".local/share") / "goose" / "sessions"
    mac = ctx.home / "Library/Application Support/Block/goose/sessions"
    if not default.is_dir() and mac.is_dir():
        default = mac
    return ctx.tool_dir("goose", None, default)


def rows(db: sqlite3.Connection, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Rows as dicts keyed by column name."""
    cur = db.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _decoded(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return None
    return value


_SESSION_KEYS = ("id", "name", "description", "working_dir", "created_at", "updated_at",
                 "session_type")


def render_goose_db(db_path: Path) -> list[bytes]:
    """One payload per session in Goose's ``sessions.db``."""
    db = connect_ro(db_path)
    try:
        begin_snapshot(db)
        payloads = []
        for s in rows(db, "SELECT * FROM sessions ORDER BY id"):
            session = {k: s[k] for k in _SESSION_KEYS if s.get(k) is not None}
            msgs = []
            for m in rows(db, "SELECT * FROM messages WHERE session_id = ? ORDER BY id",
                          (s["id"],)):
                msg = {"role": m.get("role"),
                       "created": m.get("created_timestamp") or m.get("timestamp"),
                       "content": _decoded(m.get("content_json"))}
                meta = _decoded(m.get("metadata_json"))
                if isinstance(meta, dict):  # visibility only (who the message was for)
                    msg["metadata"] = {k: meta[k] for k in ("userVisible", "agentVisible")
                                       if k in meta}
                msgs.append(msg)
            payloads.append(goose.render(session, msgs))
        return payloads
    finally:
        db.close()


def _render_goose_jsonl(path: Path) -> list[bytes]:
    lines = [_decoded(raw) for raw in path.read_bytes().splitlines() if raw.strip()]
    if not lines or not isinstance(lines[0], dict):
        return []
    meta = lines[0]
    session = {"id": path.stem, "description": meta.get("description"),
               "working_dir": meta.get("working_dir")}
    msgs = [{"role": m.get("role"), "created": m.get("created"), "content": m.get("content"),
             **({"metadata": m["metadata"]} if isinstance(m.get("metadata"), dict) else {})}
            for m in lines[1:] if isinstance(m, dict)]
    return [goose.render({k: v for k, v in session.items() if v is not None}, msgs)]


def _goose_ids(db_path: Path) -> set[str]:
    try:
        db = connect_ro(db_path)
        try:
            return {str(r[0]) for r in db.execute("SELECT id FROM sessions")}
        finally:
            db.close()
    except sqlite3.Error:
        return set()


def discover_goose(ctx: Context) -> list[Source]:
    """The database (one source for all its sessions) and any older JSONL sessions."""
    folder = goose_sessions_dir(ctx)
    if not folder.is_dir():
        return []
    out: list[Source] = []
    db = folder / "sessions.db"
    if db.is_file():
        wal = db.with_name(db.name + "-wal")
        files = (db, wal)  # the -wal may hold most rows; it may come and go
        out.append(Source(goose.TOOL, str(db), files, append=False,
                          render=functools.partial(render_goose_db, db)))
    migrated = _goose_ids(db) if db.is_file() else set()
    for p in sorted_files(folder.glob("*.jsonl")):
        if p.stem in migrated:
            continue  # Goose moved it into the database, which is read instead
        out.append(Source(goose.TOOL, str(p), (p,), append=False,
                          render=functools.partial(_render_goose_jsonl, p)))
    return out


# --- Qwen Code and Factory droid: append-only JSONL, read from the last offset --------
def qwen_projects(ctx: Context) -> Path:
    """``~/.qwen/projects`` (``[capture] qwen_dir`` overrides ``~/.qwen``)."""
    return ctx.tool_dir("qwen", None, ctx.home / ".qwen") / "projects"


def discover_qwen(ctx: Context) -> list[Source]:
    """Every chat file of every project."""
    root = qwen_projects(ctx)
    return [Source(qwen.TOOL, str(p), (p,), append=True)
            for p in sorted_files(root.glob("*/chats/*.jsonl"))] if root.is_dir() else []


def droid_sessions(ctx: Context) -> Path:
    """``~/.factory/sessions`` (``[capture] droid_dir`` overrides ``~/.factory``)."""
    return ctx.tool_dir("droid", None, ctx.home / ".factory") / "sessions"


def discover_droid(ctx: Context) -> list[Source]:
    """Every session file (``<uuid>.jsonl``; the ``.settings.json`` beside it is not one)."""
    root = droid_sessions(ctx)
    return [Source(droid.TOOL, str(p), (p,), append=True)
            for p in sorted_files(root.glob("*/*.jsonl"))] if root.is_dir() else []
