"""Reading OpenCode's storage (I/O): the older JSON tree and the newer ``opencode.db``.

Both are turned into :func:`lored.capture.opencode.render` payloads. The database is
opened read-only (``mode=ro``) so Lore never takes a write lock OpenCode might need.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from pathlib import Path
from typing import Any

from lored.capture import opencode
from lored.capture.sources import Context, Source, sorted_files
from lored.capture.sqlite_ro import begin_snapshot, connect_ro


def data_dir(ctx: Context) -> Path:
    """OpenCode's data dir: ``$OPENCODE_DATA_DIR``, else the XDG data home's ``opencode``."""
    xdg = ctx.env.get("XDG_DATA_HOME")
    default = Path(xdg) / "opencode" if xdg else ctx.home / ".local/share/opencode"
    return ctx.tool_dir("opencode", "OPENCODE_DATA_DIR", default)


def db_paths(ctx: Context) -> list[Path]:
    """Every OpenCode database on disk, the one ``$OPENCODE_DB`` names first.

    ``opencode.db`` for the latest and beta channels, ``opencode-<channel>.db`` for the
    others; ``$OPENCODE_DB`` (absolute, or relative to the data dir; ``:memory:`` is no
    file) replaces both (anomalyco/opencode ``packages/opencode/src/storage/db.ts``
    ``getChannelPath`` and ``Path``, ``src/flag/flag.ts``). Databases of the channels not
    in use still hold the person's older sessions, so they are read too.
    """
    base = data_dir(ctx)
    named = ctx.env.get("OPENCODE_DB", "")
    first = [] if named in ("", ":memory:") else [base / Path(named).expanduser()]
    found = [*first, base / "opencode.db", *sorted(base.glob("opencode-*.db"))]
    return [p for p in dict.fromkeys(found) if p.is_file()]


def watch_roots(ctx: Context) -> list[Path]:
    """The data dir (the database lives at its top, the JSON tree below it), and the
    folder of a database ``$OPENCODE_DB`` puts elsewhere."""
    roots = [data_dir(ctx)]
    named = ctx.env.get("OPENCODE_DB", "")
    if named not in ("", ":memory:"):
        roots.append((data_dir(ctx) / Path(named).expanduser()).parent)
    return list(dict.fromkeys(roots))


def discover(ctx: Context) -> list[Source]:
    """One source per JSON-tree session, plus one for the whole database."""
    base = data_dir(ctx)
    out: list[Source] = []
    storage = base / "storage"
    dbs = db_paths(ctx)
    # OpenCode migrates the tree into the database and then only updates the database:
    # a session found in both is read from the database alone
    in_db: set[str] = set()
    for db in dbs:
        in_db |= _db_session_ids(db)
    if (storage / "session").is_dir():
        for path in sorted_files((storage / "session").glob("*/*.json")):
            if path.stem in in_db:
                continue
            files = _tree_files(storage, path)
            out.append(Source(opencode.TOOL, str(path), files, append=False,
                              render=functools.partial(_render_tree, storage, path)))
    for db in dbs:
        wal = db.with_name(db.name + "-wal")
        files = (db, wal)  # the -wal may hold most rows; it may come and go
        out.append(Source(opencode.TOOL, str(db), files, append=False,
                          render=functools.partial(render_db, db)))
    return out


def _connect(db_path: Path) -> sqlite3.Connection:
    return connect_ro(db_path)


def _db_session_ids(db_path: Path) -> set[str]:
    try:
        db = _connect(db_path)
        try:
            return {str(r[0]) for r in db.execute("SELECT id FROM session")}
        finally:
            db.close()
    except sqlite3.Error:
        return set()  # unreadable now: the database source reports the error itself


def _tree_files(storage: Path, session_file: Path) -> tuple[Path, ...]:
    """Every file of one session (stat'ed to notice any change)."""
    sid = session_file.stem
    messages = sorted_files((storage / "message" / sid).glob("*.json"))
    parts: list[Path] = []
    for m in messages:
        parts += sorted_files((storage / "part" / m.stem).glob("*.json"))
    return (session_file, *messages, *parts)


def _load(path: Path) -> dict[str, Any] | None:
    try:
        obj = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None  # half-written or vanished: the rest of the session still renders
    return obj if isinstance(obj, dict) else None


def _render_tree(storage: Path, session_file: Path) -> list[bytes]:
    session = json.loads(session_file.read_bytes())  # strict: without it there is no session
    if not isinstance(session, dict):
        raise ValueError("session file is not a JSON object")
    sid = str(session.get("id") or session_file.stem)
    messages = [m for m in map(_load, sorted_files((storage / "message" / sid).glob("*.json")))
                if m is not None]
    parts: dict[str, list[dict[str, Any]]] = {}
    for m in messages:
        mid = str(m.get("id"))
        parts[mid] = [p for p in map(_load, sorted_files((storage / "part" / mid).glob("*.json")))
                      if p is not None]
    return [opencode.render(session, messages, parts)]


def _rows(db: sqlite3.Connection, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Rows as dicts, with a JSON ``data`` column merged in (columns win on conflicts)."""
    cur = db.execute(sql, params)
    names = [d[0] for d in cur.description]
    out = []
    for row in cur.fetchall():
        rec = dict(zip(names, row, strict=True))
        data = rec.pop("data", None)
        merged: dict[str, Any] = {}
        if isinstance(data, str | bytes):
            try:
                decoded = json.loads(data)
            except ValueError:
                decoded = None
            if isinstance(decoded, dict):
                merged.update(decoded)
        merged.update({k: v for k, v in rec.items() if v is not None})
        out.append(merged)
    return out


def _normalise(rec: dict[str, Any]) -> dict[str, Any]:
    """Map the database's snake_case columns onto the JSON tree's field names."""
    rename = {"session_id": "sessionID", "message_id": "messageID", "project_id": "projectID",
              "parent_id": "parentID"}
    out = {rename.get(k, k): v for k, v in rec.items()}
    created, updated = out.pop("time_created", None), out.pop("time_updated", None)
    time = out.get("time") if isinstance(out.get("time"), dict) else {}
    assert isinstance(time, dict)
    if created is not None:
        time.setdefault("created", created)
    if updated is not None:
        time.setdefault("updated", updated)
    if time:
        out["time"] = time
    return out


def render_db(db_path: Path, tool: str = opencode.TOOL) -> list[bytes]:
    """One payload per session in ``opencode.db`` (opened read-only), or a derived tool's."""
    db = _connect(db_path)
    try:
        begin_snapshot(db)  # sessions, messages and parts from one moment
        sessions = [_normalise(s) for s in _rows(db, "SELECT * FROM session ORDER BY id")]
        payloads = []
        for s in sessions:
            sid = str(s.get("id"))
            messages = [_normalise(m) for m in
                        _rows(db, "SELECT * FROM message WHERE session_id = ?", (sid,))]
            parts: dict[str, list[dict[str, Any]]] = {}
            for p in _rows(db, "SELECT * FROM part WHERE session_id = ?", (sid,)):
                part = _normalise(p)
                parts.setdefault(str(part.get("messageID")), []).append(part)
            payloads.append(opencode.render(s, messages, parts, tool))
        return payloads
    finally:
        db.close()
