"""Capture of the SQLite tools (OpenCode, Goose, Cursor) while the tool writes.

Each database is built in its tool's real schema (tests/sqlitetools.py) and a writer
connection stays open in WAL mode with checkpoints off, so the rows Lore must read live
only in the ``-wal`` file. Capture must see them, never write or lock the database, and
sync a payload of conversation rows only that parses without the tool.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lored.capture import opencode, opencode_io
from lored.capture.dotdirs import goose_sessions_dir
from lored.capture.importer import import_all
from lored.capture.registry import parse_payload
from lored.capture.sources import Context
from lored.config import Settings
from lored.store import Store
from tests import sqlitetools as st


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _untouched(w: st.Writer) -> None:
    """Lore took no lock: the tool can still start a write transaction at once."""
    w.db.execute("BEGIN IMMEDIATE")
    w.db.rollback()
    assert not w.path.with_name(w.path.name + "-journal").exists()


async def _pass(store: Store, settings: Settings, tool: str) -> dict[str, object]:
    report = (await import_all(store, settings, tool=tool)).to_json()
    assert report["errors"] == [], report
    return report


@pytest.fixture
def writers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[st.Writer]]:
    monkeypatch.delenv("OPENCODE_DB", raising=False)  # the developer's own never leaks in
    opened: list[st.Writer] = []
    yield opened
    for w in opened:
        w.close()


# --- OpenCode -----------------------------------------------------------------------
async def test_opencode_rows_in_the_wal_of_a_channel_database(
    clean_env: Path, store: Store, settings: Settings, writers: list[st.Writer]
) -> None:
    w = st.opencode_writer(clean_env / ".local/share/opencode/opencode-dev.db")
    writers.append(w)
    sid = st.opencode_session(w)
    main_before = _digest(w.path)
    assert w.wal_bytes() > 0  # every row so far sits in the -wal
    report = await _pass(store, settings, "opencode")
    assert report["imported"] == 1
    row = await store.find_session(sid)
    assert row.title == "Paginate orders" and row.project_path == st.PROJECT
    assert row.model == "claude-sonnet-4"
    msgs = await store.messages(sid)
    assert [(m.role, m.text) for m in msgs] == [
        ("user", "paginate the orders list"), ("assistant", "Added a cursor parameter.")]
    assert msgs[1].extra["tool_calls"][0]["name"] == "edit"
    # a message the tool adds later, still without a checkpoint, is the next pass's update
    st.opencode_message(w, "ses_01JQ7Z", "msg_3", "user", "and the tests?", st.T0 + 9000)
    assert (await _pass(store, settings, "opencode"))["updated"] == 1
    assert (await store.messages(sid))[-1].text == "and the tests?"
    assert _digest(w.path) == main_before  # read-only: the main file never changed
    _untouched(w)
    # the payload is the rows rendered, not the database file, and parses on its own
    payload = await store.load_payload(sid)
    assert not payload.startswith(b"SQLite format 3")
    assert len(parse_payload("opencode", payload).messages) == 3


async def test_opencode_db_variable_names_a_database_elsewhere(
    clean_env: Path, settings: Settings, writers: list[st.Writer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    elsewhere = clean_env / "isolated/oc.db"
    writers.append(st.opencode_writer(elsewhere))
    channel = st.opencode_writer(clean_env / ".local/share/opencode/opencode.db")
    writers.append(channel)
    monkeypatch.setenv("OPENCODE_DB", str(elsewhere))
    ctx = Context(settings)
    assert opencode_io.db_paths(ctx) == [elsewhere, channel.path]
    assert elsewhere.parent in opencode_io.watch_roots(ctx)
    # relative to the data dir, as OpenCode resolves it; ':memory:' is no file
    monkeypatch.setenv("OPENCODE_DB", "opencode.db")
    assert opencode_io.db_paths(Context(settings)) == [channel.path]
    monkeypatch.setenv("OPENCODE_DB", ":memory:")
    assert opencode_io.db_paths(Context(settings)) == [channel.path]


# --- Goose --------------------------------------------------------------------------
async def test_goose_rows_in_the_wal_with_its_v5_schema(
    clean_env: Path, store: Store, settings: Settings, writers: list[st.Writer]
) -> None:
    w = st.goose_writer(clean_env / ".local/share/goose/sessions/sessions.db")
    writers.append(w)
    sid = st.goose_session(w)  # name '' (not yet named): the description is the title
    assert w.wal_bytes() > 0
    main_before = _digest(w.path)
    assert (await _pass(store, settings, "goose"))["imported"] == 1
    row = await store.find_session(sid)
    assert row.title == "slow orders queries" and row.project_path == st.PROJECT
    msgs = await store.messages(sid)
    assert [m.role for m in msgs] == ["user", "assistant", "tool"]  # a result is no prompt
    assert msgs[1].extra["tool_calls"][0] == {
        "id": "tr1", "name": "developer__shell", "input": {"command": "rg slow"}}
    assert msgs[2].text == "orders.sql:12"
    assert row.started_at and row.started_at.startswith("2025-11-24T16:00:00")
    # Goose names the session and appends a reply
    w.run("UPDATE sessions SET name = 'Slow orders', user_set_name = TRUE WHERE id = ?",
          "20251124_1")
    st.goose_message(w, "20251124_1", "assistant", [{"type": "text", "text": "Line 12."}], 3)
    assert (await _pass(store, settings, "goose"))["updated"] == 1
    assert (await store.find_session(sid)).title == "Slow orders"
    assert (await store.messages(sid))[-1].text == "Line 12."
    assert _digest(w.path) == main_before
    _untouched(w)


def test_goose_ignores_a_relative_path_root(
    clean_env: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOSE_PATH_ROOT", "relative/root")  # Goose ignores it too
    assert goose_sessions_dir(Context(settings)) == clean_env / ".local/share/goose/sessions"
    monkeypatch.setenv("GOOSE_PATH_ROOT", str(clean_env / "g"))
    assert goose_sessions_dir(Context(settings)) == clean_env / "g/data/sessions"


async def test_goose_legacy_jsonl_beside_the_database(
    clean_env: Path, store: Store, settings: Settings, writers: list[st.Writer]
) -> None:
    folder = clean_env / ".local/share/goose/sessions"
    w = st.goose_writer(folder / "sessions.db")
    writers.append(w)
    migrated = st.goose_session(w, "20250101_1")
    lines = [{"working_dir": st.PROJECT, "description": "old session"},
             {"role": "user", "created": 1735700000,
              "content": [{"type": "text", "text": "an old prompt"}]}]
    for stem in ("20250101_1", "old-one"):  # one Goose already moved into the database
        (folder / f"{stem}.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    await _pass(store, settings, "goose")
    ids = {s.id for s in await store.list_sessions()}
    assert ids == {migrated, "goose:old-one"}
    assert (await store.messages("goose:old-one"))[0].text == "an old prompt"


# --- Cursor -------------------------------------------------------------------------
async def test_cursor_bubbles_in_the_wal_and_no_token_in_the_payload(
    clean_env: Path, store: Store, settings: Settings, writers: list[st.Writer]
) -> None:
    w = st.cursor_writer(clean_env)
    writers.append(w)
    cid = "5a3f0c1e-4444-4ccc-8ddd-000000000004"
    sid = st.cursor_composer(w, cid)
    assert w.wal_bytes() > 0
    main_before = _digest(w.path)
    assert (await _pass(store, settings, "cursor"))["imported"] == 1
    assert [s.id for s in await store.list_sessions()] == [sid]  # NULL, draft skipped
    row = await store.find_session(sid)
    assert row.title == "Orders pagination" and row.project_path == st.PROJECT
    assert row.model == "claude-4-sonnet"
    msgs = await store.messages(sid)
    assert [(m.role, m.text) for m in msgs] == [("user", "prompt 0"), ("assistant", "reply 1")]
    assert msgs[1].extra["tool_calls"][0]["name"] == "edit_file"
    # the conversation grows by two bubbles while Cursor keeps its connection open
    st.cursor_grow(w, cid, 4)
    assert (await _pass(store, settings, "cursor"))["updated"] == 1
    assert [m.text for m in await store.messages(sid)][-2:] == ["prompt 2", "reply 3"]
    payload = await store.load_payload(sid)
    assert b"SECRET" not in payload and b"cursorAuth" not in payload
    assert len(parse_payload("cursor", payload).messages) == 4
    assert _digest(w.path) == main_before
    _untouched(w)


async def test_cursor_in_rollback_journal_mode(
    clean_env: Path, store: Store, settings: Settings, writers: list[st.Writer]
) -> None:
    w = st.cursor_writer(clean_env, journal="DELETE")  # the mode most real databases use
    writers.append(w)
    sid = st.cursor_composer(w)
    main_before = _digest(w.path)
    assert (await _pass(store, settings, "cursor"))["imported"] == 1
    assert len(await store.messages(sid)) == 2
    assert _digest(w.path) == main_before
    assert not w.path.with_name("state.vscdb-wal").exists()  # no WAL was created by Lore
    _untouched(w)


# --- one pass, one moment -------------------------------------------------------------
def test_a_pass_reads_a_wal_database_at_one_moment(
    clean_env: Path, writers: list[st.Writer], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = st.opencode_writer(clean_env / ".local/share/opencode/opencode.db")
    writers.append(w)
    st.opencode_session(w, "ses_A", "first")
    st.opencode_session(w, "ses_B", "second")
    real_render = opencode.render
    calls: list[str] = []

    def render_then_write(session, messages, parts, tool="opencode"):  # type: ignore[no-untyped-def]
        calls.append(str(session.get("id")))
        if len(calls) == 1:  # OpenCode writes to ses_B while Lore is between sessions
            st.opencode_message(w, "ses_B", "msg_late", "user", "late", st.T0 + 9000)
        return real_render(session, messages, parts, tool)

    monkeypatch.setattr(opencode, "render", render_then_write)
    payloads = opencode_io.render_db(w.path)
    assert calls == ["ses_A", "ses_B"]
    assert b"msg_late" not in payloads[1]  # the pass saw the database before that write
    monkeypatch.setattr(opencode, "render", real_render)
    assert b"msg_late" in opencode_io.render_db(w.path)[1]  # and the next pass sees it


async def test_goose_text_it_wrote_for_the_model_is_not_the_persons_words(
    clean_env: Path, store: Store, settings: Settings, writers: list[st.Writer]
) -> None:
    w = st.goose_writer(clean_env / ".local/share/goose/sessions/sessions.db")
    writers.append(w)
    sid = st.goose_session(w)
    # after compacting, Goose injects a summary as a user message only the agent sees
    w.run("INSERT INTO messages (session_id, role, content_json, created_timestamp, "
          "metadata_json) VALUES ('20251124_1', 'user', ?, 1764000010, ?)",
          json.dumps([{"type": "text", "text": "Summary of the conversation so far"}]),
          json.dumps({"userVisible": False, "agentVisible": True}))
    st.goose_message(w, "20251124_1", "user", [{"type": "text", "text": "carry on"}], 11)
    await _pass(store, settings, "goose")
    msgs = await store.messages(sid)
    typed = [m.text for m in msgs if m.role == "user" and m.text]
    assert typed == ["list the slow orders queries", "carry on"]
    injected = next(m for m in msgs if m.extra.get("context"))
    assert injected.text == "" and injected.extra["context"] == [
        "Summary of the conversation so far"]
