"""A pull stores sessions unparsed; messages and the search index are built after it.

Right after `lorectl pull` the sessions are listed (with the sealed title and project)
and restorable; `status` says how many are still being indexed; `search` waits for the
deferred parse and finds their text; a crash in the middle of it loses nothing (the
next reader, or lored at start-up, carries on); and lored does it in the background.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loreproto.faults import EXIT_CODE
from tests.daemonproc import Machine, wait_for
from tests.sync.machines import LorectlMachine
from tests.sync.sessions import lines, native_id

EMAIL = "dev@example.com"


def _pending(m: LorectlMachine) -> int:
    return int(m.json("status")["local"]["index_pending"])


def _two_machines(tmp_path: Path, server: Any, n: int = 3) -> tuple[
        LorectlMachine, LorectlMachine, list[str]]:
    a, b = (LorectlMachine(tmp_path, name, server_url=server.url) for name in "ab")
    a.login(EMAIL)
    b.login(EMAIL)
    ids = []
    for i in range(n):
        a.write_session(native_id(f"d{i}"), lines(f"d{i}", 4, marker=f"zebra{i}"))
        ids.append(f"claude-code:{native_id(f'd{i}')}")
    assert a.json("import")["imported"] == n
    assert a.json("push")["pushed"] == n
    return a, b, ids


def test_pulled_sessions_are_listed_then_found_by_search(tmp_path: Path, server: Any) -> None:
    a, b, ids = _two_machines(tmp_path, server)
    assert sorted(b.json("pull")["sessions"]) == sorted(ids)
    # stored unparsed: listed with what the sealed info and the feed carry
    assert b.db("SELECT COUNT(*) FROM sessions WHERE parsed = 0") == [(3,)]
    listed, origin = b.sessions(), a.sessions()
    assert set(listed) == set(ids)
    for sid in ids:
        for key in ("title", "project_path", "started_at", "message_count", "payload_bytes"):
            assert listed[sid][key] == origin[sid][key], key
    assert _pending(b) == 3
    text = b.run("status").stdout
    assert "Indexing:" in text and "3 sessions pending" in text

    hits = b.json("search", "zebra1")  # waits for the deferred parse and the index
    assert hits and {h["session_id"] for h in hits} == {ids[1]}
    assert _pending(b) == 0 and "Indexing:" not in b.run("status").stdout
    assert b.db("SELECT COUNT(*) FROM sessions WHERE parsed = 0") == [(0,)]
    for sid in ids:
        assert b.show(sid)["messages"] == a.show(sid)["messages"]
    assert dict(b.db("SELECT id, payload_hash FROM sessions")) == dict(
        a.db("SELECT id, payload_hash FROM sessions"))


def test_show_parses_the_one_session_it_shows(tmp_path: Path, server: Any) -> None:
    a, b, ids = _two_machines(tmp_path, server)
    b.json("pull")
    assert b.show(ids[0])["messages"] == a.show(ids[0])["messages"]
    assert b.db("SELECT id FROM sessions WHERE parsed = 0 ORDER BY id") == [
        (sid,) for sid in sorted(ids[1:])]


def test_appended_chunks_are_parsed_with_the_stored_ones(tmp_path: Path, server: Any) -> None:
    a, b, ids = _two_machines(tmp_path, server, n=1)
    b.json("pull")
    assert b.json("search", "zebra0")
    a.write_session(native_id("d0"), lines("d0", 3, start=4, marker="yak"), append=True)
    a.json("import")
    assert a.json("push")["bytes_uploaded"] < 4000  # only the tail went up
    assert b.json("pull")["sessions"] == ids
    assert _pending(b) == 1
    assert {h["session_id"] for h in b.json("search", "yak")} == set(ids)
    assert b.show(ids[0])["messages"] == a.show(ids[0])["messages"]


def test_a_crash_in_the_deferred_parse_loses_nothing(tmp_path: Path, server: Any) -> None:
    a, b, ids = _two_machines(tmp_path, server)
    b.json("pull")
    died = b.run("search", "zebra2", check=False, LORE_FAULT="mid-deferred-index")
    assert died.returncode == EXIT_CODE  # killed inside the parse's transaction
    assert b.db("SELECT COUNT(*) FROM sessions WHERE parsed = 0") == [(3,)]
    assert b.db("SELECT COUNT(*) FROM messages") == [(0,)]
    assert _pending(b) == 3
    hits = b.json("search", "zebra2")  # the next reader carries on
    assert {h["session_id"] for h in hits} == {ids[2]}
    assert _pending(b) == 0


@pytest.fixture
def daemons() -> Iterator[list[Machine]]:
    """Machines whose lored is stopped if a test leaves it running."""
    made: list[Machine] = []
    yield made
    for m in made:
        m.cleanup()


def test_lored_builds_the_index_in_the_background(tmp_path: Path, server: Any,
                                                  daemons: list[Machine]) -> None:
    a, _, ids = _two_machines(tmp_path, server)
    c = Machine(tmp_path / "c", LORE_PASSWORD="account-password-1",
                LORE_PASSPHRASE="correct horse battery", NO_COLOR="1")
    daemons.append(c)
    c.lorectl("login", "--server", server.url, "--email", EMAIL)
    pulled = json.loads(c.lorectl("pull", "--json").stdout)  # one-shot: leaves it pending
    assert sorted(pulled["sessions"]) == sorted(ids)
    assert c.status()["local"]["index_pending"] == 3
    c.start_lored()  # catches up what the pull left, without being asked
    wait_for(lambda: c.status()["local"]["index_pending"] == 0, timeout=60,
             what="lored to parse and index the pulled sessions")
    hits = json.loads(c.lorectl("search", "zebra0", "--json").stdout)
    assert {h["session_id"] for h in hits} == {ids[0]}



def test_lored_hands_a_large_backlog_to_a_child(tmp_path: Path, server: Any,
                                               daemons: list[Machine]) -> None:
    from lored.capture.backlog import CHILD_MIN_SESSIONS

    n = CHILD_MIN_SESSIONS + 4
    _, _, ids = _two_machines(tmp_path, server, n=n)
    c = Machine(tmp_path / "c", LORE_PASSWORD="account-password-1",
                LORE_PASSPHRASE="correct horse battery", NO_COLOR="1")
    daemons.append(c)
    c.lorectl("login", "--server", server.url, "--email", EMAIL)
    assert len(json.loads(c.lorectl("pull", "--json").stdout)["sessions"]) == n
    c.start_lored()
    wait_for(lambda: c.status()["local"]["index_pending"] == 0, timeout=60,
             what="lored's child process to parse and index the backlog")
    assert not [e for e in c.logs() if e.get("event") == "background_parse_failed"]
    hits = json.loads(c.lorectl("search", f"zebra{n - 1}", "--json").stdout)
    assert {h["session_id"] for h in hits} == {ids[n - 1]}
