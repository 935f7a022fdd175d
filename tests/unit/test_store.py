"""The local store: capture, listing, search, push state, pull pages, deletion."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lored.errors import UsageError
from lored.model import Message, ParsedSession
from lored.store import PulledSession, SourceState, Store, digest

ME = "machine-a"


def session(sid: str = "claude-code:abc", n: int = 2, project: str = "/p/webapp") -> ParsedSession:
    return ParsedSession(
        session_id=sid, tool=sid.split(":")[0], native_id=sid.split(":")[1],
        project_path=project, started_at="2025-06-14T09:00:00Z", ended_at="2025-06-14T10:00:00Z",
        messages=[Message("user" if i % 2 == 0 else "assistant", None, f"message {i} pagination",
                          {"tool_calls": [{"name": "Read"}]} if i else {}) for i in range(n)],
        model="claude-sonnet-4", title="Add pagination",
    )


@pytest.fixture
async def store(tmp_path: Path):
    s = await Store.open(tmp_path / "db" / "sessions.db")
    yield s
    await s.close()


async def test_open_creates_private_file_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    s = await Store.open(path)
    await s.save_capture(session(), b"payload", None, ME)
    await s.close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    s2 = await Store.open(path)
    assert [r.id for r in await s2.list_sessions()] == ["claude-code:abc"]
    await s2.close()


async def test_capture_import_update_unchanged(store: Store) -> None:
    assert await store.save_capture(session(), b"v1", None, ME) == "imported"
    assert await store.save_capture(session(), b"v1", None, ME) == "unchanged"
    assert await store.save_capture(session(n=3), b"v1+more", None, ME) == "updated"
    assert await store.load_payload("claude-code:abc") == b"v1+more"
    assert len(await store.messages("claude-code:abc")) == 3
    row = await store.find_session("claude-code:ab")
    assert row.to_json()["message_count"] == 3 and row.local


async def test_messages_keep_extra_and_search_finds_words(store: Store) -> None:
    await store.save_capture(session(), b"x", None, ME)
    msgs = await store.messages("claude-code:abc")
    assert msgs[1].extra == {"tool_calls": [{"name": "Read"}]}
    hits = await store.search("pagination")
    assert {h["session_id"] for h in hits} == {"claude-code:abc"}
    assert "[pagination]" in hits[0]["snippet"]
    assert await store.search('weird " query (') == []


async def test_find_session_errors(store: Store) -> None:
    await store.save_capture(session("claude-code:abc1"), b"1", None, ME)
    await store.save_capture(session("claude-code:abc2"), b"2", None, ME)
    with pytest.raises(UsageError, match="several"):
        await store.find_session("claude-code:abc")
    with pytest.raises(UsageError, match="no session"):
        await store.find_session("nope")
    assert (await store.find_session("abc2")).id == "claude-code:abc2"


async def test_push_state_and_growth_while_pushing(store: Store) -> None:
    await store.save_capture(session(), b"hello", None, ME)
    assert await store.counts() == (1, 1)
    [cand] = await store.push_candidates()
    assert cand.pushed_generation == 0 and cand.payload_hash == digest(b"hello")
    # the session grows before the push result is recorded: it stays pending
    await store.save_capture(session(n=3), b"hello world", None, ME)
    await store.mark_pushed(cand.session_id, generation=1, chunk_count=1, length=5,
                            prefix_hash=digest(b"hello"), seq=1)
    [cand2] = await store.push_candidates()
    assert (cand2.pushed_length, cand2.pushed_hash) == (5, digest(b"hello"))
    await store.mark_pushed(cand.session_id, generation=1, chunk_count=2, length=11,
                            prefix_hash=digest(b"hello world"), seq=2)
    assert await store.push_candidates() == []
    assert await store.counts() == (1, 0)


async def test_pull_page_is_atomic_and_guarded(store: Store) -> None:
    pulled = PulledSession(session("codex:r1"), b"remote", "machine-b", "b", 1, 1, 7)
    await store.apply_pull_page([pulled], [], cursor=7)
    assert await store.get_cursor() == 7
    state = await store.remote_state("codex:r1")
    assert state is not None and (state.generation, state.chunk_count, state.local) == (1, 1, False)
    # a local capture never overwrites a pulled session
    assert await store.save_capture(session("codex:r1"), b"other", None, ME) == "unchanged"
    assert await store.load_payload("codex:r1") == b"remote"
    assert await store.push_candidates() == []
    # a failing page leaves nothing behind, cursor included
    bad = PulledSession(session("codex:r2"), b"x", "machine-b", "b", 1, 1, 9)
    bad.parsed.messages.append(Message("user", None, None))  # type: ignore[arg-type]
    with pytest.raises(Exception):
        await store.apply_pull_page([bad], [], cursor=9)
    assert await store.get_cursor() == 7
    assert await store.remote_state("codex:r2") is None
    await store.apply_pull_page([], ["codex:r1"], cursor=10)
    assert await store.remote_state("codex:r1") is None
    assert await store.search("pagination") == []


async def test_delete_is_remembered_and_sources_recorded(store: Store) -> None:
    src = SourceState("/x.jsonl", "claude-code:abc", 5, 1, 2, 5)
    await store.save_capture(session(), b"hello", src, ME)
    assert await store.get_source("/x.jsonl") == src
    assert await store.delete_session("claude-code:abc")
    assert await store.is_deleted("claude-code:abc")
    assert await store.get_source("/x.jsonl") is None
    await store.undelete("claude-code:abc")
    assert not await store.is_deleted("claude-code:abc")


async def test_large_payload_round_trip(store: Store) -> None:
    big = os.urandom(600_000)
    await store.save_capture(session(), big, None, ME)
    assert await store.load_payload("claude-code:abc") == big


async def test_index_is_deferred_and_catches_up_exactly(store: Store) -> None:
    await store.save_capture(session(), b"v1", None, ME)
    # capture does not tokenise; the first search catches up
    assert await store.index_pending() == 2
    assert await store.index_pending() == 0
    updated = session(n=3)
    updated.messages[0].text = "rewritten words only"
    await store.save_capture(updated, b"v2", None, ME)
    assert {h["snippet"] for h in await store.search("rewritten")} == {"[rewritten] words only"}
    assert len(await store.search("pagination")) == 2  # the old row 0 text is gone
    # rows deleted before they were ever indexed leave the index consistent
    await store.save_capture(session("claude-code:tmp"), b"t", None, ME)
    await store.delete_session("claude-code:tmp")
    assert await store.index_pending() == 0
    assert {h["session_id"] for h in await store.search("pagination")} == {"claude-code:abc"}


async def test_migration_from_v1_keeps_the_index(tmp_path: Path) -> None:
    import sqlite3

    from lored.store.db import _split_sql
    from lored.store.schema import MIGRATIONS

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    for stmt in _split_sql(MIGRATIONS[0]):
        db.execute(stmt)
    db.execute("PRAGMA user_version=1")
    db.execute("INSERT INTO sessions(id, tool, native_id, origin_machine_id, local, "
               "payload_length, payload_hash, captured_at, updated_at) "
               "VALUES ('c:1', 'c', '1', 'm', 1, 1, 'h', 'now', 'now')")
    db.execute("INSERT INTO messages(session_id, idx, role, text) VALUES ('c:1', 0, 'user', "
               "'legacy indexed words')")
    db.commit()
    db.close()
    s = await Store.open(path)
    try:
        assert [h["session_id"] for h in await s.search("legacy")] == ["c:1"]
        assert await s.index_pending() == 0
        await s.delete_session("c:1")
        assert await s.search("legacy") == []
    finally:
        await s.close()
