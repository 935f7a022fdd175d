"""OpenCode: JSON tree and opencode.db render to the same payload; parts become messages."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from lored.capture import opencode, opencode_io
from lored.capture.importer import import_all
from lored.capture.sources import Context
from lored.config import Settings
from lored.store import Store

SID = "ses_7f3a9c1e2b4dSynth"
SESSION = {"id": SID, "projectID": "4b1e9d0c", "directory": "/home/dev/projects/webapp",
           "title": "Fix flaky test", "version": "0.9.1",
           "time": {"created": 1749900000000, "updated": 1749900060000}}
MESSAGES = [
    {"id": "msg_002", "sessionID": SID, "role": "assistant", "modelID": "claude-sonnet-4",
     "providerID": "anthropic", "time": {"created": 1749900010000},
     "tokens": {"input": 900, "output": 40}},
    {"id": "msg_001", "sessionID": SID, "role": "user", "time": {"created": 1749900005000}},
]
PARTS = {
    "msg_001": [
        {"id": "prt_a", "messageID": "msg_001", "sessionID": SID, "type": "text",
         "text": "Why does test_login flake?"},
        {"id": "prt_b", "messageID": "msg_001", "sessionID": SID, "type": "file",
         "filename": "tests/test_login.py", "url": "file:///x"},
    ],
    "msg_002": [
        {"id": "prt_c", "messageID": "msg_002", "type": "step-start"},
        {"id": "prt_d", "messageID": "msg_002", "type": "reasoning", "text": "Look at sleeps."},
        {"id": "prt_e", "messageID": "msg_002", "type": "tool", "callID": "call_1",
         "tool": "read", "state": {"status": "completed", "input": {"filePath": "t.py"},
                                   "output": "time.sleep(0.1)"}},
        {"id": "prt_f", "messageID": "msg_002", "type": "tool", "callID": "call_2",
         "tool": "bash", "state": {"status": "error", "input": {"command": "pytest"},
                                   "error": "exit 1"}},
        {"id": "prt_g", "messageID": "msg_002", "type": "text",
         "text": "It races the login timer."},
        {"id": "prt_h", "messageID": "msg_002", "type": "hologram"},
    ],
}


def write_tree(base: Path) -> Path:
    storage = base / "storage"
    sess = storage / "session/4b1e9d0c" / f"{SID}.json"
    sess.parent.mkdir(parents=True)
    sess.write_text(json.dumps(SESSION))
    for m in MESSAGES:
        p = storage / "message" / SID / f"{m['id']}.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(m))
        for part in PARTS[str(m["id"])]:
            q = storage / "part" / str(m["id"]) / f"{part['id']}.json"
            q.parent.mkdir(parents=True, exist_ok=True)
            q.write_text(json.dumps(part))
    return sess


def write_db(path: Path, sessions: list[dict[str, Any]] | None = None) -> None:
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE session (id TEXT PRIMARY KEY, project_id TEXT, directory TEXT, "
        "title TEXT, version TEXT, time_created INTEGER, time_updated INTEGER);"
        "CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT, time_created INTEGER, "
        "time_updated INTEGER, data TEXT);"
        "CREATE TABLE part (id TEXT PRIMARY KEY, message_id TEXT, session_id TEXT, "
        "time_created INTEGER, time_updated INTEGER, data TEXT);")
    for s in sessions or [SESSION]:
        db.execute("INSERT INTO session VALUES (?,?,?,?,?,?,?)",
                   (s["id"], s["projectID"], s["directory"], s["title"], s["version"],
                    s["time"]["created"], s["time"]["updated"]))
    for m in MESSAGES:
        data = {k: v for k, v in m.items() if k not in ("id", "sessionID")}
        db.execute("INSERT INTO message VALUES (?,?,?,?,?)",
                   (m["id"], SID, m["time"]["created"], None, json.dumps(data)))
        for part in PARTS[str(m["id"])]:
            pdata = {k: v for k, v in part.items() if k not in ("id", "messageID", "sessionID")}
            db.execute("INSERT INTO part VALUES (?,?,?,?,?,?)",
                       (part["id"], m["id"], SID, None, None, json.dumps(pdata)))
    db.commit()
    db.close()


def check_session(payload: bytes) -> None:
    s = opencode.parse(payload)
    assert s.session_id == f"opencode:{SID}" and s.project_path == "/home/dev/projects/webapp"
    assert s.title == "Fix flaky test" and s.tool_version == "0.9.1"
    assert (s.started_at, s.ended_at) == ("2025-06-14T11:20:00.000Z", "2025-06-14T11:21:00.000Z")
    assert s.model == "claude-sonnet-4"
    assert [(m.role, m.text) for m in s.messages] == [
        ("user", "Why does test_login flake?"), ("assistant", "It races the login timer.")]
    user, answer = s.messages
    assert user.timestamp == "2025-06-14T11:20:05.000Z"
    assert user.extra["files"] == ["tests/test_login.py"]
    assert answer.extra["thinking"] == "Look at sleeps."
    assert answer.extra["tool_calls"] == [
        {"id": "call_1", "name": "read", "input": {"filePath": "t.py"}},
        {"id": "call_2", "name": "bash", "input": {"command": "pytest"}}]
    assert answer.extra["tool_results"] == [
        {"tool_use_id": "call_1", "content": "time.sleep(0.1)", "is_error": False},
        {"tool_use_id": "call_2", "content": "exit 1", "is_error": True}]
    assert answer.extra["usage"] == {"input": 900, "output": 40}
    assert s.bad_records == 0 and any("hologram" in w for w in s.warnings)


def test_render_is_deterministic_and_parses() -> None:
    payload = opencode.render(SESSION, MESSAGES, PARTS)
    assert payload == opencode.render(SESSION, list(reversed(MESSAGES)),
                                      {k: list(reversed(v)) for k, v in PARTS.items()})
    check_session(payload)


def test_tree_and_db_render_the_same_session(tmp_path: Path) -> None:
    sess = write_tree(tmp_path / "tree")
    [tree_payload] = opencode_io._render_tree(tmp_path / "tree/storage", sess)
    check_session(tree_payload)
    write_db(tmp_path / "opencode.db")
    [db_payload] = opencode_io.render_db(tmp_path / "opencode.db")
    check_session(db_payload)


def test_hostile_payloads() -> None:
    good = opencode.render(SESSION, MESSAGES, PARTS).splitlines(keepends=True)
    bad = b"".join([good[0], b'{"part": {"type": "text", "text": "orphan?"}}\n'[:30] + b"\n",
                    b"\xff\xfe\n", b'{"part": {"messageID": "x", "type": 5}}\n', *good[1:]])
    s = opencode.parse(bad)
    assert [m.text for m in s.messages] == ["Why does test_login flake?",
                                            "It races the login timer."]
    assert s.bad_records == 3
    assert opencode.parse(b'{"part":{"type":"text"}}\n').bad_records == 1
    assert opencode.parse(b"").native_id == ""


async def test_import_tree_and_db(clean_env: Path, tmp_path: Path, store: Store,
                                  settings: Settings) -> None:
    base = tmp_path / "oc"
    write_tree(base)
    other = dict(SESSION, id="ses_other", title="Other")
    write_db(base / "opencode.db", [other])
    env = {"HOME": str(clean_env), "OPENCODE_DATA_DIR": str(base)}
    assert [s.key for s in opencode_io.discover(Context(settings, env))][-1].endswith(
        "opencode.db")
    report = await import_all(store, settings, tool="opencode", env=env)
    assert report.to_json() == {"imported": 2, "updated": 0, "unchanged": 0, "errors": []}
    assert {r.id for r in await store.list_sessions()} == {f"opencode:{SID}",
                                                          "opencode:ses_other"}
    again = await import_all(store, settings, tool="opencode", env=env)
    assert (again.imported, again.updated) == (0, 0) and again.unchanged == 2
    # a part changes in the tree: only that session is re-rendered
    part = base / "storage/part/msg_002/prt_g.json"
    part.write_text(json.dumps(dict(PARTS["msg_002"][4], text="It races the timer. Fixed.")))
    os.utime(part, ns=(1, 1_900_000_000_000_000_000))
    changed = await import_all(store, settings, tool="opencode", env=env)
    assert changed.updated == 1
    msgs = await store.messages(f"opencode:{SID}")
    assert msgs[-1].text == "It races the timer. Fixed."


def test_default_data_dir_follows_xdg(settings: Settings, tmp_path: Path) -> None:
    ctx = Context(settings, {"HOME": "/h", "XDG_DATA_HOME": str(tmp_path)})
    assert opencode_io.data_dir(ctx) == tmp_path / "opencode"
    assert opencode_io.data_dir(Context(settings, {"HOME": "/h"})) == Path(
        "/h/.local/share/opencode")


async def test_session_in_tree_and_db_is_read_from_db(
    clean_env: Path, tmp_path: Path, store: Store, settings: Settings
) -> None:
    base = tmp_path / "oc"
    write_tree(base)
    write_db(base / "opencode.db")
    env = {"HOME": str(clean_env), "OPENCODE_DATA_DIR": str(base)}
    assert [s.key for s in opencode_io.discover(Context(settings, env))] == [
        str(base / "opencode.db")]
    assert (await import_all(store, settings, tool="opencode", env=env)).imported == 1
