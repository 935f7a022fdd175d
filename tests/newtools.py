"""Synthetic sessions of the VS Code-family and dot-folder tools, in each tool's real layout.

Shared by the unit tests and the live-capture e2e test. Each writer puts one session
under ``home`` exactly where the tool keeps it (Linux paths) and returns its session id.
Field names follow the formats recorded in docs/formats.md.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

PROJECT = "/home/dev/src/orbital"
T0 = 1764000000000  # ms: 2025-11-24T16:00:00Z


def _json(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def cline_task(home: Path, ext: str = "saoudrizwan.claude-dev", tool: str = "cline",
               task_id: str = str(T0), prompt: str = "add pagination to the orders API",
               app: str = "Code") -> str:
    """A Cline 3.x (or Roo / Kilo) task folder under VS Code's globalStorage."""
    task = home / ".config" / app / "User/globalStorage" / ext / "tasks" / task_id
    env = (f"<environment_details>\n# Current Working Directory ({PROJECT}) Files\n"
           "src/\n</environment_details>")
    _json(task / "api_conversation_history.json", [
        {"role": "user", "content": [{"type": "text", "text": f"<task>\n{prompt}\n</task>"},
                                     {"type": "text", "text": env}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "I'll read the handler first."},
            {"type": "tool_use", "id": "t1", "name": "read_file",
             "input": {"path": "src/orders.py"}}]},
        {"role": "user", "content": [
            {"type": "text", "text": "[read_file for 'src/orders.py'] Result:\ndef list(): ..."},
            {"type": "text", "text": env}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Use a cursor parameter."}]},
    ])
    _json(task / "ui_messages.json", [
        {"ts": T0, "type": "say", "say": "text", "text": prompt},
        {"ts": T0 + 5000, "type": "say", "say": "api_req_started", "text": "{}"},
        {"ts": T0 + 9000, "type": "say", "say": "text", "text": "Use a cursor parameter."},
    ])
    _json(task / "task_metadata.json", {"files_in_context": [], "model_usage": [
        {"ts": T0 + 1000, "model_id": "claude-sonnet-4", "model_provider_id": "anthropic"}]})
    if tool != "cline":
        _json(task / "history_item.json", {"id": task_id, "ts": T0, "task": prompt,
                                            "workspace": PROJECT, "mode": "code"})
    return f"{tool}:{task_id}"


def continue_session(home: Path, sid: str = "5b1c0a52-1111-4c1e-9d2a-000000000001") -> str:
    """A Continue session file plus its entry in ``sessions.json``."""
    folder = home / ".continue/sessions"
    _json(folder / f"{sid}.json", {
        "sessionId": sid, "title": "Pagination for orders", "workspaceDirectory":
        f"file://{PROJECT}", "chatModelTitle": "GPT-4o", "history": [
            {"message": {"role": "user", "content": [{"type": "text",
                                                      "text": "how do I paginate orders?"}]},
             "contextItems": []},
            {"message": {"role": "assistant", "content": "Use keyset pagination."},
             "contextItems": [], "promptLogs": [{"modelTitle": "GPT-4o"}]},
        ]})
    _json(folder / "sessions.json", [{"sessionId": sid, "title": "Pagination for orders",
                                      "dateCreated": str(T0),
                                      "workspaceDirectory": f"file://{PROJECT}"}])
    return f"continue:{sid}"


def copilot_session(home: Path, sid: str = "c0ffee00-2222-4bbb-8ccc-000000000002") -> str:
    """A Copilot Chat session as the newer JSONL operation log, in a workspace."""
    ws = home / ".config/Code/User/workspaceStorage/4f1e2d3c"
    _json(ws / "workspace.json", {"folder": f"file://{PROJECT}"})
    snapshot = {"version": 3, "sessionId": sid, "creationDate": T0, "customTitle": None,
                "requests": []}
    request = {"requestId": "r1", "timestamp": T0 + 1000,
               "message": {"text": "why is the orders test flaky?"},
               "response": [{"value": "The fixture shares a clock."},
                            {"kind": "toolInvocationSerialized", "toolId": "runTests",
                             "toolCallId": "c1", "invocationMessage": {"value": "Ran tests"}}],
               "result": {"metadata": {"resolvedModel": "gpt-4.1"}}}
    lines = [{"kind": 0, "v": snapshot}, {"kind": 2, "k": ["requests"], "v": [request]},
             {"kind": 1, "k": ["customTitle"], "v": "Flaky orders test"}]
    path = ws / "chatSessions" / f"{sid}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return f"copilot-chat:{sid}"


def cursor_db(home: Path, cid: str = "9e8d7c6b-3333-4aaa-8bbb-000000000003") -> str:
    """Cursor's global state.vscdb with one composer, its bubbles, a token, and a workspace."""
    user = home / ".config/Cursor/User"
    (user / "globalStorage").mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(user / "globalStorage/state.vscdb")
    db.execute("CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
    db.execute("CREATE TABLE cursorDiskKV (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
    db.execute("INSERT INTO ItemTable VALUES ('cursorAuth/accessToken', ?)",
               ("eyJhbGciOiJIUzI1NiJ9.secret",))
    composer = {"_v": 9, "composerId": cid, "name": "Orders pagination", "createdAt": T0,
                "lastUpdatedAt": T0 + 60000, "unifiedMode": "agent",
                "modelConfig": {"modelName": "claude-4-sonnet"},
                "fullConversationHeadersOnly": [{"bubbleId": "b1", "type": 1},
                                                {"bubbleId": "b2", "type": 2}]}
    rows = [(f"composerData:{cid}", json.dumps(composer)),
            ("composerData:empty-draft", None),
            (f"bubbleId:{cid}:b1", json.dumps({"_v": 3, "bubbleId": "b1", "type": 1,
                                               "text": "paginate the orders list",
                                               "timingInfo": {"clientRpcSendTime": T0}})),
            (f"bubbleId:{cid}:b2", json.dumps({"_v": 3, "bubbleId": "b2", "type": 2,
                                               "text": "Added a cursor parameter."}))]
    db.executemany("INSERT INTO cursorDiskKV VALUES (?, ?)", rows)
    db.commit()
    db.close()
    ws = user / "workspaceStorage/a1b2c3"
    _json(ws / "workspace.json", {"folder": f"file://{PROJECT}"})
    wdb = sqlite3.connect(ws / "state.vscdb")
    wdb.execute("CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
    wdb.execute("INSERT INTO ItemTable VALUES ('composer.composerData', ?)",
                (json.dumps({"allComposers": [{"composerId": cid}]}),))
    wdb.commit()
    wdb.close()
    return f"cursor:{cid}"


GOOSE_SCHEMA = """
CREATE TABLE sessions (id TEXT PRIMARY KEY, name TEXT, description TEXT,
  session_type TEXT, working_dir TEXT, created_at TIMESTAMP, updated_at TIMESTAMP,
  extension_data TEXT);
CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT, role TEXT,
  content_json TEXT, created_timestamp INTEGER, timestamp TIMESTAMP, tokens INTEGER,
  metadata_json TEXT);
"""


def goose_db(home: Path) -> Path:
    """Goose's sessions.db (WAL, schema of its session manager), empty."""
    path = home / ".local/share/goose/sessions/sessions.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(GOOSE_SCHEMA)
    db.commit()
    db.close()
    return path


def goose_session(db: sqlite3.Connection, sid: str = "20251124_1",
                  prompt: str = "list the slow orders queries") -> str:
    """Insert one Goose session with a prompt, a tool call and its result (no commit)."""
    db.execute("INSERT INTO sessions VALUES (?, ?, '', 'user', ?, '2025-11-24 16:00:00', "
               "'2025-11-24 16:01:00', '{}')", (sid, prompt[:30], PROJECT))
    msgs = [("user", [{"type": "text", "text": prompt}]),
            ("assistant", [{"type": "text", "text": "Checking the query log."},
                           {"type": "toolRequest", "id": "tr1", "toolCall": {
                               "status": "success", "value": {"name": "shell",
                                                              "arguments": {"command": "rg"}}}}]),
            ("user", [{"type": "toolResponse", "id": "tr1", "toolResult": {
                "status": "success", "value": [{"type": "text", "text": "orders.sql:12"}]}}]),
            ("assistant", [{"type": "text", "text": "orders.sql line 12 scans the table."}])]
    for n, (role, content) in enumerate(msgs):
        db.execute("INSERT INTO messages (session_id, role, content_json, created_timestamp) "
                   "VALUES (?, ?, ?, ?)", (sid, role, json.dumps(content), 1764000000 + n))
    return f"goose:{sid}"


def _jsonl(path: Path, records: list[dict]) -> Path:  # type: ignore[type-arg]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def qwen_chat(home: Path, sid: str = "7a7a7a7a-4444-4ddd-8eee-000000000004") -> str:
    """A Qwen Code chat with a tool step and a rewound branch (one abandoned prompt)."""
    base = {"sessionId": sid, "cwd": PROJECT, "version": "0.2.1", "gitBranch": "main"}

    def rec(uuid: str, parent: str | None, kind: str, role: str, parts: list, n: int,
            **more: object) -> dict:  # type: ignore[type-arg]
        return {**base, "uuid": uuid, "parentUuid": parent, "type": kind,
                "timestamp": f"2025-11-24T16:00:{n:02d}.000Z",
                "message": {"role": role, "parts": parts}, **more}

    _jsonl(home / ".qwen/projects/-home-dev-src-orbital/chats" / f"{sid}.jsonl", [
        rec("u1", None, "user", "user", [{"text": "abandoned prompt"}], 0),
        rec("u2", None, "user", "user", [{"text": "find the slow query"}], 1),
        rec("a1", "u2", "assistant", "model", [{"functionCall": {
            "id": "f1", "name": "grep", "args": {"pattern": "SELECT"}}}], 2,
            model="qwen3-coder-plus"),
        rec("t1", "a1", "tool_result", "user", [{"functionResponse": {
            "id": "f1", "name": "grep", "response": {"output": "orders.sql:12"}}}], 3),
        rec("a2", "t1", "assistant", "model", [{"thought": True, "text": "it scans"},
                                                {"text": "orders.sql:12 scans the table."}], 4,
            model="qwen3-coder-plus"),
        {**base, "uuid": "s1", "parentUuid": "a2", "type": "system", "subtype": "custom_title",
         "timestamp": "2025-11-24T16:00:05.000Z", "systemPayload": {"title": "Slow query"}},
    ])
    return f"qwen:{sid}"


def droid_session(home: Path, sid: str = "d801d801-5555-4fff-8aaa-000000000005") -> Path:
    """A Factory droid session file; returns its path (append-only)."""
    return _jsonl(home / ".factory/sessions/-home-dev-src-orbital" / f"{sid}.jsonl", [
        {"type": "session_start", "id": sid, "title": "Orders cleanup", "owner": "dev",
         "cwd": PROJECT},
        {"type": "message", "id": "m1", "timestamp": "2025-11-24T16:00:00.000Z",
         "message": {"role": "user", "content": [{"type": "text", "text": "clean up orders"}]}},
        {"type": "message", "id": "m2", "timestamp": "2025-11-24T16:00:03.000Z",
         "message": {"role": "assistant", "model": "claude-sonnet-4", "content": [
             {"type": "text", "text": "Reading it."},
             {"type": "tool_use", "id": "t1", "name": "Read", "input": {"path": "o.py"}}]}},
        {"type": "message", "id": "m3", "timestamp": "2025-11-24T16:00:04.000Z",
         "message": {"role": "user", "content": [
             {"type": "tool_result", "tool_use_id": "t1", "content": "def o(): ..."}]}},
    ])
