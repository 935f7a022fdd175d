"""A real ``lored`` captures OpenCode, Goose and Cursor while each tool writes.

Each tool's database is built in its real schema (tests/sqlitetools.py) and its writer
connection stays open in WAL mode with checkpoints off for the whole test, as the tool's
own process does: every row lored reads lives only in the ``-wal`` file. Rows and a new
session added while lored runs are captured; the databases' main files end
byte-identical (lored never wrote, never checkpointed), and what lored stored holds
conversation rows only, never Cursor's login tokens.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import sqlitetools as st
from tests.daemonproc import Machine, wait_for

CID = "5a3f0c1e-4444-4ccc-8ddd-000000000004"


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    # the developer's own tool variables must not point lored at real databases
    m = Machine(tmp_path / "m", OPENCODE_DB="", GOOSE_PATH_ROOT="", OPENCODE_DATA_DIR="")
    yield m
    m.cleanup()


@pytest.fixture
def writers(machine: Machine) -> Iterator[dict[str, st.Writer]]:
    home = machine.home
    ws = {"opencode": st.opencode_writer(home / ".local/share/opencode/opencode.db"),
          "goose": st.goose_writer(home / ".local/share/goose/sessions/sessions.db"),
          "cursor": st.cursor_writer(home, CID)}
    yield ws
    for w in ws.values():
        w.close()


def listed(m: Machine) -> dict[str, Any]:
    return {s["id"]: s for s in json.loads(m.lorectl("sessions", "list", "--json").stdout)}


def count(m: Machine, sid: str) -> int:
    row = listed(m).get(sid)
    return int(row["message_count"]) if row else -1


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_lored_captures_rows_the_tools_write_into_the_wal(
    machine: Machine, writers: dict[str, st.Writer]
) -> None:
    ids = {"opencode": st.opencode_session(writers["opencode"]),
           "goose": st.goose_session(writers["goose"]),
           "cursor": st.cursor_composer(writers["cursor"], CID)}
    mains = {tool: digest(w.path) for tool, w in writers.items()}
    assert all(w.wal_bytes() > 0 for w in writers.values())
    machine.start_lored()
    wait_for(lambda: set(ids.values()) <= set(listed(machine)), timeout=60,
             what="lored to capture the three SQLite tools")
    assert {t: count(machine, sid) for t, sid in ids.items()} == {
        "opencode": 2, "goose": 3, "cursor": 2}

    # each tool appends while lored runs; the writers stay open, nothing is checkpointed
    st.opencode_message(writers["opencode"], "ses_01JQ7Z", "msg_3", "user", "and the tests?",
                        st.T0 + 9000)
    st.goose_message(writers["goose"], "20251124_1", "assistant",
                     [{"type": "text", "text": "orders.sql line 12 scans the table."}], 3)
    st.cursor_grow(writers["cursor"], CID, 4)
    wait_for(lambda: {t: count(machine, sid) for t, sid in ids.items()} == {
        "opencode": 3, "goose": 4, "cursor": 4}, timeout=60,
        what="rows added to the WAL while lored runs to be captured")
    # a session started while lored runs is a new session
    new = st.goose_session(writers["goose"], "20251124_2", name="Second look")
    wait_for(lambda: count(machine, new) == 3, timeout=60, what="the new Goose session")

    shown = {t: json.loads(machine.lorectl("sessions", "show", sid, "--json").stdout)
             for t, sid in ids.items()}
    assert shown["opencode"]["messages"][-1]["text"] == "and the tests?"
    assert shown["goose"]["messages"][-1]["text"] == "orders.sql line 12 scans the table."
    assert [m["text"] for m in shown["cursor"]["messages"]][-2:] == ["prompt 2", "reply 3"]
    assert all(s["project_path"] == st.PROJECT for s in shown.values())
    assert json.loads(machine.lorectl("sessions", "show", new, "--json").stdout)[
        "title"] == "Second look"

    # lored never wrote: main files unchanged, the rows still only in the WAL
    assert {tool: digest(w.path) for tool, w in writers.items()} == mains
    assert all(w.wal_bytes() > 0 for w in writers.values())
    for w in writers.values():  # and it holds no lock the tool would wait on
        w.db.execute("BEGIN IMMEDIATE")
        w.db.rollback()
    assert machine.stop_lored() == 0
    # what lored keeps is conversation rows: Cursor's tokens never reached its store
    store = machine.paths.db_file
    assert store.is_file()
    stored = b"".join(p.read_bytes() for p in store.parent.glob("sessions.db*"))
    assert b"TOKEN-SECRET" not in stored and b"REFRESH-SECRET" not in stored
