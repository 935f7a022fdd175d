"""A hostile server: tampering with Lore Cloud's SQLite is refused per session.

Flip a byte, swap two chunks, replay an older generation's chunk, move a chunk to
another session, roll a session back: each of those sessions is refused with a clear
message while the rest of the pull completes; a repaired session arrives on the next
pull (local retry list).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.sync.machines import LorectlMachine
from tests.sync.sessions import lines, native_id

EMAIL = "dev@example.com"
PASSWORD = "account-password-1"


def sid(name: str) -> str:
    """Session id of a test session."""
    return f"claude-code:{native_id(name)}"


class ServerDb:
    """Direct access to the server's SQLite file, as an attacker with disk access has."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        con = sqlite3.connect(self.path, timeout=30)
        try:
            with con:
                return list(con.execute(sql, params))
        finally:
            con.close()

    def chunk(self, session: str, gen: int, idx: int) -> bytes:
        return bytes(self("SELECT data FROM chunks WHERE session_id = ? AND generation = ? "
                          "AND idx = ?", (session, gen, idx))[0][0])

    def set_chunk(self, session: str, gen: int, idx: int, data: bytes) -> None:
        self("UPDATE chunks SET data = ? WHERE session_id = ? AND generation = ? AND idx = ?",
             (data, session, gen, idx))

    def bump_seq(self, session: str) -> None:
        """Re-offer a session in the change feed (as any write would)."""
        (account, seq), = self("SELECT account_id, seq + 1 FROM accounts")
        self("UPDATE accounts SET seq = ? WHERE account_id = ?", (seq, account))
        self("UPDATE sessions SET seq = ? WHERE session_id = ?", (seq, session))


def test_tampered_sessions_are_refused_one_by_one(tmp_path: Path, server: Any) -> None:
    a, b, c = (LorectlMachine(tmp_path, n, server_url=server.url) for n in "abc")
    for m in (a, b, c):
        m.login(EMAIL)
    names = ("flip", "swap", "move_src", "move_dst", "replay", "ok")
    for name in names:
        a.write_session(native_id(name), lines(name, 3, marker=f"v1-{name}"))
    a.json("import")
    assert a.json("push")["pushed"] == len(names)
    a.write_session(native_id("swap"), lines("swap", 2, start=3), append=True)
    a.json("import")
    assert a.json("push")["bytes_uploaded"] < 2000  # appended chunk 1 of generation 1
    db = ServerDb(Path(server.data_dir) / "lore.db")
    old_replay = db("SELECT generation, chunk_count, chunk_sizes, info FROM sessions "
                    "WHERE session_id = ?", (sid("replay"),))[0]
    old_replay_chunk = db.chunk(sid("replay"), 1, 0)
    v2 = lines("replay", 4, marker="v2-replay")
    a.write_session(native_id("replay"), v2)  # rewritten: generation 2
    a.json("import")
    assert a.json("push")["pushed"] == 1
    assert c.json("pull")["pulled"] == len(names)  # C holds the honest state

    flip = bytearray(db.chunk(sid("flip"), 1, 0))
    flip[len(flip) // 2] ^= 0x20
    db.set_chunk(sid("flip"), 1, 0, bytes(flip))
    s0, s1 = db.chunk(sid("swap"), 1, 0), db.chunk(sid("swap"), 1, 1)
    db.set_chunk(sid("swap"), 1, 0, s1)
    db.set_chunk(sid("swap"), 1, 1, s0)
    db.set_chunk(sid("move_dst"), 1, 0, db.chunk(sid("move_src"), 1, 0))
    db.set_chunk(sid("replay"), 2, 0, old_replay_chunk)

    out = b.run("pull", "--json", check=False)
    assert out.returncode == 1
    assert "error: 4 sessions could not be pulled" in out.stderr and "hint: " in out.stderr
    doc = json.loads(out.stdout)
    bad = {sid(n) for n in ("flip", "swap", "move_dst", "replay")}
    assert set(doc["sessions"]) == {sid("move_src"), sid("ok")}
    assert {f["session_id"] for f in doc["failed"]} == bad
    assert all(f["reason"] == "corrupt" and "failed verification" in f["message"]
               for f in doc["failed"])
    assert set(b.sessions()) == {sid("move_src"), sid("ok")}
    assert b.show(sid("ok"))["messages"] == a.show(sid("ok"))["messages"]

    # the refused sessions stay on the retry list; a repaired one arrives next time
    db.set_chunk(sid("flip"), 1, 0, bytes(flip[: len(flip) // 2]) + bytes(
        [flip[len(flip) // 2] ^ 0x20]) + bytes(flip[len(flip) // 2 + 1:]))
    again = json.loads(b.run("pull", "--json", check=False).stdout)
    assert again["sessions"] == [sid("flip")]
    assert {f["session_id"] for f in again["failed"]} == bad - {sid("flip")}
    assert b.show(sid("flip"))["messages"] == a.show(sid("flip"))["messages"]

    # roll "replay" back to its authentic generation 1: C, holding generation 2, refuses
    gen, count, sizes, info = old_replay
    db("UPDATE sessions SET generation = ?, chunk_count = ?, chunk_sizes = ?, info = ? "
       "WHERE session_id = ?", (gen, count, sizes, info, sid("replay")))
    db("INSERT INTO chunks(account_id, session_id, generation, idx, data) "
       "SELECT account_id, session_id, 1, 0, ? FROM sessions WHERE session_id = ?",
       (old_replay_chunk, sid("replay")))
    db.bump_seq(sid("replay"))
    out = c.run("pull", "--json", check=False)
    rolled = json.loads(out.stdout)
    assert out.returncode == 1 and rolled["sessions"] == []
    assert [(f["session_id"], f["reason"]) for f in rolled["failed"]] == [
        (sid("replay"), "rollback")]
    assert "kept the local copy" in rolled["failed"][0]["message"]
    assert [m["text"] for m in c.show(sid("replay"))["messages"]][0].startswith("v2-replay")
