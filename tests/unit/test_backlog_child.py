"""A large parse backlog is worked off by a child process (lored's memory stays small)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lored.capture.backlog import CHILD_MIN_SESSIONS, BacklogFailed, catch_up_in_child
from lored.capture.registry import parse_payload
from lored.store import Store
from lored.store.db import prepare_capture
from tests.sync.sessions import lines


async def _deferred_store(path: Path, n: int) -> tuple[Store, list[str]]:
    """A store holding ``n`` sessions whose messages are left to the deferred parse."""
    store = await Store.open(path)
    ids = []
    for i in range(n):
        payload = lines(f"b{i}", 4, marker=f"kumquat{i}")
        parsed = parse_payload("claude-code", payload)
        await store.save_capture(parsed, payload, None, "m-1",
                                 prepared=prepare_capture(parsed, payload, defer=True))
        ids.append(parsed.session_id)
    return store, ids


async def test_the_child_parses_and_indexes_the_backlog(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    store, ids = await _deferred_store(tmp_path / "sessions.db", CHILD_MIN_SESSIONS)
    try:
        assert await store.unparsed_count() == CHILD_MIN_SESSIONS

        def not_here(*_: object) -> None:
            raise AssertionError("parsed in the calling process")

        # the work happens in the child: this process's parser is never called
        monkeypatch.setattr("lored.capture.deferred.parse_one", not_here)
        parsed, indexed = await catch_up_in_child(store.path)
        assert (parsed, indexed) == (CHILD_MIN_SESSIONS, 4 * CHILD_MIN_SESSIONS)
        assert await store.unparsed_count() == 0
        assert await store.index_backlog() == 0
        hits = await store.search("kumquat7")
        assert {h["session_id"] for h in hits} == {ids[7]}
    finally:
        await store.close()


async def test_a_failing_child_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "sessions.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(BacklogFailed) as info:
        await catch_up_in_child(tmp_path / "sessions.db")
    msg = info.value.message
    assert "background parse stopped (exit 1)" in msg and "Traceback" not in msg
    assert "\n" not in msg
