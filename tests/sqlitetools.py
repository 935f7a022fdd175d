"""Databases of the SQLite tools (OpenCode, Goose, Cursor) in each tool's real schema.

The schemas follow the tools' own sources: OpenCode's drizzle tables
(anomalyco/opencode ``packages/opencode/src/session/session.sql.ts``), Goose's
``SessionStorage::create`` (block/goose ``crates/goose/src/session/session_manager.rs``,
schema v5) and Cursor's two key-value tables in ``state.vscdb``. Every database is put
in WAL mode as the tools do, and :class:`Writer` keeps a connection open with
checkpoints off, so committed rows stay in the ``-wal`` file while Lore reads them.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

PROJECT = "/home/dev/src/orders"
T0 = 1764000000000  # ms

OPENCODE_SCHEMA = """
CREATE TABLE project (id TEXT PRIMARY KEY, worktree TEXT NOT NULL, vcs TEXT, name TEXT,
  time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL, sandboxes TEXT NOT NULL);
CREATE TABLE session (id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES project(id),
  workspace_id TEXT, parent_id TEXT, slug TEXT NOT NULL, directory TEXT NOT NULL, path TEXT,
  title TEXT NOT NULL, version TEXT NOT NULL, share_url TEXT, summary_additions INTEGER,
  summary_deletions INTEGER, summary_files INTEGER, summary_diffs TEXT,
  cost REAL NOT NULL DEFAULT 0, tokens_input INTEGER NOT NULL DEFAULT 0,
  tokens_output INTEGER NOT NULL DEFAULT 0, revert TEXT, permission TEXT, agent TEXT,
  model TEXT, time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL,
  time_compacting INTEGER, time_archived INTEGER);
CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT NOT NULL REFERENCES session(id),
  time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE part (id TEXT PRIMARY KEY, message_id TEXT NOT NULL REFERENCES message(id),
  session_id TEXT NOT NULL, time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL,
  data TEXT NOT NULL);
CREATE INDEX part_session_idx ON part (session_id);
"""

GOOSE_SCHEMA = """
CREATE TABLE schema_version (version INTEGER PRIMARY KEY,
  applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
INSERT INTO schema_version (version) VALUES (5);
CREATE TABLE sessions (id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '', user_set_name BOOLEAN DEFAULT FALSE,
  session_type TEXT NOT NULL DEFAULT 'user', working_dir TEXT NOT NULL,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  extension_data TEXT DEFAULT '{}', total_tokens INTEGER, input_tokens INTEGER,
  output_tokens INTEGER, accumulated_total_tokens INTEGER, accumulated_input_tokens INTEGER,
  accumulated_output_tokens INTEGER, schedule_id TEXT, recipe_json TEXT,
  user_recipe_values_json TEXT);
CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id TEXT NOT NULL REFERENCES sessions(id), role TEXT NOT NULL,
  content_json TEXT NOT NULL, created_timestamp INTEGER NOT NULL,
  timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP, tokens INTEGER, metadata_json TEXT);
CREATE INDEX idx_messages_session ON messages(session_id);
"""

CURSOR_SCHEMA = """
CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB);
CREATE TABLE cursorDiskKV (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB);
"""


class Writer:
    """The tool's own connection: WAL mode, no automatic checkpoint, left open."""

    def __init__(self, path: Path, schema: str | None = None, journal: str = "WAL") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path)
        self.db.execute(f"PRAGMA journal_mode={journal}")
        self.db.execute("PRAGMA wal_autocheckpoint=0")  # rows stay in the -wal file
        if schema:
            self.db.executescript(schema)
        self.db.commit()

    def run(self, sql: str, *params: Any) -> None:
        """Execute one statement and commit it (into the WAL)."""
        self.db.execute(sql, params)
        self.db.commit()

    def wal_bytes(self) -> int:
        """Size of the ``-wal`` file (rows not yet checkpointed live there)."""
        wal = self.path.with_name(self.path.name + "-wal")
        return wal.stat().st_size if wal.exists() else 0

    def close(self) -> None:
        self.db.close()


# --- OpenCode -----------------------------------------------------------------------
def opencode_writer(path: Path) -> Writer:
    """An OpenCode database with its project row."""
    w = Writer(path, OPENCODE_SCHEMA)
    w.run("INSERT INTO project VALUES ('p1', ?, 'git', NULL, ?, ?, '[]')", PROJECT, T0, T0)
    return w


def opencode_session(w: Writer, sid: str = "ses_01JQ7Z", title: str = "Paginate orders") -> str:
    """One OpenCode session: a prompt and a reply with a tool call."""
    w.run("INSERT INTO session (id, project_id, slug, directory, title, version, model, "
          "time_created, time_updated) VALUES (?, 'p1', 'paginate', ?, ?, '1.2.3', ?, ?, ?)",
          sid, PROJECT, title, json.dumps({"id": "claude-sonnet-4", "providerID": "anthropic"}),
          T0, T0 + 5000)
    opencode_message(w, sid, f"msg_{sid}_1", "user", "paginate the orders list", T0)
    opencode_message(w, sid, f"msg_{sid}_2", "assistant", "Added a cursor parameter.",
                     T0 + 2000, tool=True)
    return f"opencode:{sid}"


def opencode_message(w: Writer, sid: str, mid: str, role: str, text: str, at: int,
                     tool: bool = False) -> None:
    """One message row with its text part (and a completed tool part when ``tool``)."""
    info: dict[str, Any] = {"role": role, "time": {"created": at}}
    if role == "assistant":
        info |= {"modelID": "claude-sonnet-4", "providerID": "anthropic"}
    w.run("INSERT INTO message VALUES (?, ?, ?, ?, ?)", mid, sid, at, at, json.dumps(info))
    w.run("INSERT INTO part VALUES (?, ?, ?, ?, ?, ?)", f"prt_{mid}_a", mid, sid, at, at,
          json.dumps({"type": "text", "text": text}))
    if tool:
        w.run("INSERT INTO part VALUES (?, ?, ?, ?, ?, ?)", f"prt_{mid}_b", mid, sid, at, at,
              json.dumps({"type": "tool", "tool": "edit", "callID": "call_1",
                          "state": {"status": "completed", "input": {"file": "orders.py"},
                                    "output": "ok"}}))


# --- Goose --------------------------------------------------------------------------
def goose_writer(path: Path) -> Writer:
    """Goose's ``sessions.db`` at schema v5, empty."""
    return Writer(path, GOOSE_SCHEMA)


def goose_session(w: Writer, sid: str = "20251124_1", name: str = "") -> str:
    """A session as Goose 1.x writes it: name empty until named, a tool round trip."""
    w.run("INSERT INTO sessions (id, name, description, working_dir, created_at, updated_at) "
          "VALUES (?, ?, 'slow orders queries', ?, '2025-11-24 16:00:00', "
          "'2025-11-24 16:01:00')", sid, name, PROJECT)
    goose_message(w, sid, "user", [{"type": "text", "text": "list the slow orders queries"}], 0)
    goose_message(w, sid, "assistant", [
        {"type": "text", "text": "Checking the query log."},
        {"type": "toolRequest", "id": "tr1", "toolCall": {
            "status": "success", "value": {"name": "developer__shell",
                                           "arguments": {"command": "rg slow"}}}}], 1)
    goose_message(w, sid, "user", [{"type": "toolResponse", "id": "tr1", "toolResult": {
        "status": "success", "value": [{"type": "text", "text": "orders.sql:12"}]}}], 2)
    return f"goose:{sid}"


def goose_message(w: Writer, sid: str, role: str, content: list[dict[str, Any]], n: int) -> None:
    """One ``messages`` row (``created_timestamp`` in seconds, as Goose writes it)."""
    w.run("INSERT INTO messages (session_id, role, content_json, created_timestamp) "
          "VALUES (?, ?, ?, ?)", sid, role, json.dumps(content), T0 // 1000 + n)


# --- Cursor -------------------------------------------------------------------------
def cursor_user(home: Path) -> Path:
    """Cursor's Linux ``User`` folder."""
    return home / ".config/Cursor/User"


def cursor_writer(home: Path, cid: str = "5a3f0c1e-4444-4ccc-8ddd-000000000004",
                  journal: str = "WAL") -> Writer:
    """Cursor's global ``state.vscdb`` with a token, a NULL row, a draft and one workspace
    (real ones mostly use a rollback journal, ``journal="DELETE"``; some a WAL)."""
    user = cursor_user(home)
    w = Writer(user / "globalStorage/state.vscdb", CURSOR_SCHEMA, journal)
    w.run("INSERT INTO ItemTable VALUES ('cursorAuth/accessToken', 'eyJhbGciOi.TOKEN-SECRET')")
    w.run("INSERT INTO ItemTable VALUES ('cursorAuth/refreshToken', 'REFRESH-SECRET')")
    w.run("INSERT INTO cursorDiskKV VALUES ('composerData:null-row', NULL)")
    w.run("INSERT INTO cursorDiskKV VALUES ('composerData:draft', ?)",
          json.dumps({"composerId": "draft", "fullConversationHeadersOnly": [],
                      "createdAt": T0}))
    ws = user / "workspaceStorage/0f1e2d3c"
    ws.mkdir(parents=True, exist_ok=True)
    (ws / "workspace.json").write_text(json.dumps({"folder": f"file://{PROJECT}"}))
    wdb = Writer(ws / "state.vscdb", CURSOR_SCHEMA)
    wdb.run("INSERT INTO ItemTable VALUES ('composer.composerData', ?)",
            json.dumps({"allComposers": [{"composerId": cid, "name": "Orders"}]}))
    wdb.close()
    return w


def cursor_composer(w: Writer, cid: str = "5a3f0c1e-4444-4ccc-8ddd-000000000004",
                    bubbles: int = 2) -> str:
    """A composer whose headers list ``bubbles`` bubbles (user, assistant, user, …)."""
    headers = [{"bubbleId": f"b{n}", "type": 1 if n % 2 == 0 else 2} for n in range(bubbles)]
    w.run("INSERT INTO cursorDiskKV VALUES (?, ?)", f"composerData:{cid}", json.dumps({
        "_v": 10, "composerId": cid, "name": "Orders pagination", "createdAt": T0,
        "lastUpdatedAt": T0 + 60000, "unifiedMode": "agent", "status": "completed",
        "modelConfig": {"modelName": "claude-4-sonnet"},
        "fullConversationHeadersOnly": headers}))
    for n in range(bubbles):
        cursor_bubble(w, cid, n)
    return f"cursor:{cid}"


def cursor_bubble(w: Writer, cid: str, n: int) -> None:
    """Bubble ``b<n>``: even ones are the person's prompts, odd ones replies with a tool."""
    bubble: dict[str, Any] = {"_v": 3, "bubbleId": f"b{n}", "type": 1 if n % 2 == 0 else 2,
                              "text": f"{'prompt' if n % 2 == 0 else 'reply'} {n}",
                              "timingInfo": {"clientRpcSendTime": T0 + n * 1000}}
    if n % 2:
        bubble["toolFormerData"] = {"toolCallId": f"tc{n}", "name": "edit_file",
                                    "rawArgs": '{"target_file": "orders.py"}'}
    w.run("INSERT INTO cursorDiskKV VALUES (?, ?)", f"bubbleId:{cid}:b{n}", json.dumps(bubble))


def cursor_grow(w: Writer, cid: str, total: int) -> None:
    """Cursor appends bubbles: the rows first, then the composer's header list."""
    row = w.db.execute("SELECT value FROM cursorDiskKV WHERE key = ?",
                       (f"composerData:{cid}",)).fetchone()
    composer = json.loads(row[0])
    have = len(composer["fullConversationHeadersOnly"])
    for n in range(have, total):
        cursor_bubble(w, cid, n)
        composer["fullConversationHeadersOnly"].append(
            {"bubbleId": f"b{n}", "type": 1 if n % 2 == 0 else 2})
    w.run("INSERT INTO cursorDiskKV VALUES (?, ?)", f"composerData:{cid}", json.dumps(composer))
