"""Restoring an OpenCode session into ``opencode.db`` (OpenCode 1.2+ reads only it).

The tables, from OpenCode's own schema (anomalyco/opencode
``packages/opencode/src/session/session.sql.ts`` and ``project/project.sql.ts``):
``session(id, project_id → project, slug, directory, title, version, time_created,
time_updated, …)``, ``message(id, session_id, time_*, data)`` and ``part(id, message_id,
session_id, time_*, data)``, where ``data`` is the record's JSON without the columns'
ids; ``project(id, worktree, vcs, time_*, sandboxes)``. Timestamps have no SQL default
(OpenCode's ORM fills them), so every NOT NULL column is filled here.

The insert is driven by ``PRAGMA table_info``: columns this version of OpenCode does
not have are left out, NOT NULL columns Lore has no value for get an empty value of
their type. One short write transaction (``BEGIN IMMEDIATE`` with a busy timeout) so a
running OpenCode is never left with half a session.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from lored.restore.paths import RestoreError

_RENAME = {"projectID": "project_id", "parentID": "parent_id", "sessionID": "session_id",
           "messageID": "message_id", "shareURL": "share_url"}


def database(data_dir: Path) -> Path | None:
    """The database OpenCode uses here: ``opencode.db``, else the newest channel's."""
    main = data_dir / "opencode.db"
    if main.is_file():
        return main
    channels = sorted(data_dir.glob("opencode-*.db"), key=lambda p: p.stat().st_mtime)
    return channels[-1] if channels else None


def _columns(db: sqlite3.Connection, table: str) -> dict[str, tuple[str, bool, bool]]:
    """column -> (declared type, NOT NULL, has a default)."""
    return {str(r[1]): (str(r[2] or "").upper(), bool(r[3]), r[4] is not None)
            for r in db.execute(f"PRAGMA table_info({table})")}  # noqa: S608 (our names)


def _times(rec: dict[str, Any]) -> tuple[int, int]:
    """(created, updated) in ms from a record's ``time``; now when it has none."""
    t = rec.get("time")
    t = t if isinstance(t, dict) else {}
    raw_c, raw_u = t.get("created"), t.get("updated")
    created = raw_c if isinstance(raw_c, int) else int(time.time() * 1000)
    updated = raw_u if isinstance(raw_u, int) else created
    return int(created), int(updated)


def _row(cols: dict[str, tuple[str, bool, bool]], values: dict[str, Any]) -> dict[str, Any]:
    row = {k: v for k, v in values.items() if k in cols}
    for name, (kind, not_null, has_default) in cols.items():
        if name not in row and not_null and not has_default:
            row[name] = 0 if "INT" in kind or "REAL" in kind else (
                "[]" if name == "sandboxes" else "")
    return row


def _insert(db: sqlite3.Connection, table: str, row: dict[str, Any], *, ignore: bool = False
            ) -> None:
    names = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    verb = "INSERT OR IGNORE" if ignore else "INSERT"
    db.execute(f"{verb} INTO {table} ({names}) VALUES ({marks})",  # noqa: S608 (our names)
               [json.dumps(v) if isinstance(v, dict | list) else v for v in row.values()])


def write_session(db_path: Path, project: str, project_id: str, session: dict[str, Any],
                  records: list[tuple[str, dict[str, Any]]], *, replace: bool) -> bool:
    """Put one session (and its project row) into OpenCode's database.

    Returns False when the session is already there and ``replace`` is not set (the
    caller decides whether that copy is the same session). Raises RestoreError when the
    database cannot be written (locked for longer than the timeout, not OpenCode's).
    """
    sid = str(session["id"])
    try:
        db = sqlite3.connect(str(db_path), timeout=10, isolation_level=None)
    except sqlite3.Error as exc:
        raise RestoreError(f"cannot open {db_path}: {exc}",
                           hint="close OpenCode and run the command again") from None
    try:
        tables = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master "
                                                "WHERE type = 'table'")}
        if not {"session", "message", "part"} <= tables:
            raise RestoreError(f"{db_path} has no OpenCode session tables",
                               hint="start OpenCode once so it creates its database")
        db.execute("BEGIN IMMEDIATE")
        try:
            exists = db.execute("SELECT 1 FROM session WHERE id = ?", (sid,)).fetchone()
            if exists and not replace:
                db.execute("ROLLBACK")
                return False
            if exists:
                db.execute("DELETE FROM part WHERE session_id = ?", (sid,))
                db.execute("DELETE FROM message WHERE session_id = ?", (sid,))
                db.execute("DELETE FROM session WHERE id = ?", (sid,))
            _fill(db, tables, project, project_id, session, records)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise RestoreError(f"cannot write the session into {db_path}: {exc}",
                           hint="close OpenCode (it may hold a lock) and run the command "
                                "again") from None
    finally:
        db.close()
    return True


def _fill(db: sqlite3.Connection, tables: set[str], project: str, project_id: str,
          session: dict[str, Any], records: list[tuple[str, dict[str, Any]]]) -> None:
    created, updated = _times(session)
    if "project" in tables:
        _insert(db, "project", _row(_columns(db, "project"), {
            "id": project_id, "worktree": project,
            "vcs": None if project_id == "global" else "git",
            "time_created": created, "time_updated": updated}), ignore=True)
    values = {_RENAME.get(k, k): v for k, v in session.items() if not isinstance(v, dict)}
    values |= {"project_id": project_id, "directory": project, "time_created": created,
               "time_updated": updated}
    values.setdefault("slug", str(session["id"]))
    values.setdefault("title", "")
    values.setdefault("version", "")
    _insert(db, "session", _row(_columns(db, "session"), values))
    for kind, rec in records:
        c, u = _times(rec)
        data = {k: v for k, v in rec.items() if k not in ("id", "sessionID", "messageID")}
        row = {"id": rec.get("id"), "session_id": session["id"], "time_created": c,
               "time_updated": u, "data": data}
        if kind == "part":
            row["message_id"] = rec.get("messageID")
        _insert(db, kind, _row(_columns(db, kind), row))
