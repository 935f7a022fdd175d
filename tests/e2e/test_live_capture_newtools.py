"""The newer tools, end to end with real processes.

A running ``lored`` captures Cline, Roo Code, Kilo Code, Continue, Copilot Chat, Cursor,
Goose, Qwen Code and Factory droid sessions from a fresh HOME, and keeps capturing
while the tools write: a Goose row that sits only in the database's ``-wal`` (a writer
holds it open, no checkpoint) and a Cline task file rewritten whole. Then two machines
sync them through a real ``lore-server``; the payload alone rebuilds every session on
the machine without the tools.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import newtools as nt
from tests.daemonproc import Machine, wait_for
from tests.sync.machines import LorectlMachine

NEW = {"cline", "roo-code", "kilo-code", "continue", "copilot-chat", "cursor", "goose",
       "qwen", "droid"}
SAME = ("id", "tool", "title", "project_path", "model", "started_at", "message_count",
        "messages")


def write_all(home: Path) -> tuple[dict[str, str], Path]:
    """One session of every new tool in ``home``; returns tool -> id and Goose's db."""
    ids = {
        "cline": nt.cline_task(home),
        "roo-code": nt.cline_task(home, "rooveterinaryinc.roo-cline", "roo-code",
                                  "0199a0b1-0000-7000-8000-0000000000a1", "fix the flaky test"),
        "kilo-code": nt.cline_task(home, "kilocode.kilo-code", "kilo-code",
                                   "0199a0b1-0000-7000-8000-0000000000b2", "rename it",
                                   app="Cursor"),
        "continue": nt.continue_session(home),
        "copilot-chat": nt.copilot_session(home),
        "cursor": nt.cursor_db(home),
        "qwen": nt.qwen_chat(home),
        "droid": "droid:d801d801-5555-4fff-8aaa-000000000005",
    }
    nt.droid_session(home)
    db = nt.goose_db(home)
    con = sqlite3.connect(db)
    ids["goose"] = nt.goose_session(con)
    con.commit()
    con.close()
    return ids, db


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    m = Machine(tmp_path / "m")
    yield m
    m.cleanup()


def listed(m: Machine) -> dict[str, Any]:
    return {s["id"]: s for s in json.loads(m.lorectl("sessions", "list", "--json").stdout)}


def test_lored_captures_the_new_tools_live(machine: Machine) -> None:
    ids, goose_db = write_all(machine.home)
    machine.start_lored()
    wait_for(lambda: set(ids.values()) <= set(listed(machine)), timeout=60,
             what="lored to capture every new tool")
    tools = {t["tool"]: t for t in json.loads(machine.lorectl("tools", "--json").stdout)}
    for tool in NEW:
        assert tools[tool]["enabled"] and tools[tool]["sessions"] == 1, tools[tool]
        assert tools[tool]["last_capture"] and tools[tool]["found"], tools[tool]
        assert all(Path(p).exists() for p in tools[tool]["paths"]), tools[tool]
    assert tools["windsurf"]["readable"] is False and "encrypts" in tools["windsurf"]["note"]
    assert set(tools["cline"]) >= {"tool", "enabled", "paths", "sessions", "last_capture"}

    # Goose writes a row while lored runs; it stays in the WAL (writer open, no checkpoint)
    writer = sqlite3.connect(goose_db)
    try:
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute("INSERT INTO messages (session_id, role, content_json, created_timestamp)"
                       " VALUES ('20251124_1', 'user', ?, 1764000200)",
                       (json.dumps([{"type": "text", "text": "what about indexes?"}]),))
        writer.commit()
        wait_for(lambda: listed(machine)[ids["goose"]]["message_count"] == 5, timeout=60,
                 what="the Goose row in the WAL to be captured")
    finally:
        writer.close()
    # Cline rewrites its task file whole with one more turn
    api = next((machine.home / ".config/Code/User/globalStorage").rglob(
        f"{nt.T0}/api_conversation_history.json"))
    doc = json.loads(api.read_text())
    doc.append({"role": "user", "content": [{"type": "text", "text": "now add tests"}]})
    api.write_text(json.dumps(doc))
    wait_for(lambda: listed(machine)[ids["cline"]]["message_count"] == 5, timeout=60,
             what="the rewritten Cline task to be captured")
    shown = json.loads(machine.lorectl("sessions", "show", ids["cline"], "--json").stdout)
    assert shown["messages"][-1]["text"] == "now add tests"
    assert machine.stop_lored() == 0


def test_new_tools_sync_to_a_machine_without_them(tmp_path: Path, server: Any) -> None:
    a = LorectlMachine(tmp_path, "a", server_url=server.url)
    b = LorectlMachine(tmp_path, "b", server_url=server.url)
    a.login()
    b.login()
    ids, _ = write_all(a.home)
    imported = a.json("import")
    assert imported["errors"] == [] and imported["imported"] == len(NEW), imported
    assert {s["tool"] for s in a.sessions().values()} == NEW
    pushed = a.json("push")
    assert set(pushed["sessions"]) == set(ids.values())
    pulled = b.json("pull")
    assert set(pulled["sessions"]) == set(ids.values()) and pulled["failed"] == []
    for sid in ids.values():
        mine, theirs = a.show(sid), b.show(sid)
        assert {k: theirs[k] for k in SAME} == {k: mine[k] for k in SAME}, sid
        assert theirs["messages"] and theirs["project_path"] == nt.PROJECT, sid
    # B has none of the tools' folders: nothing there was captured, only pulled
    assert not (b.home / ".config").exists() and not (b.home / ".continue").exists()
