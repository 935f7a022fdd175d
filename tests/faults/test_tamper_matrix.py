"""Tampering with Lore Cloud's storage, on SQLite, PostgreSQL and PostgreSQL + S3 (the
attacker then rewrites the bucket's objects).

A flipped byte, a truncated chunk, swapped chunks, a replayed older generation, a
dropped trailing chunk, a session moved into another account: each is refused on open,
for that session only, with a sentence saying so; every other session still syncs and
new ones keep arriving. A forged envelope stops transfers with a clear wrong-key or
wrong-passphrase message and nothing is stored. (tests/e2e/test_cloud_tamper.py covers
the retry list and the rollback guard on SQLite.)
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from tests.faults.common import (
    EMAIL,
    PASSWORD,
    Cloud,
    Corpus,
    LorectlMachine,
    digests,
    new_machine,
    record,
    sid,
)
from tests.faults.storage import Storage

OTHER = "other@example.com"
BAD = ("flip", "trunc", "swap", "replay", "drop_tail")


def test_tampered_storage_is_refused_per_session(tmp_path: Path, any_cloud: Cloud) -> None:
    cloud, corpus, db = any_cloud, Corpus(), Storage(any_cloud)
    a, b = new_machine(tmp_path, cloud, "a"), new_machine(tmp_path, cloud, "b")
    for name in (*BAD, "moved", "ok1", "ok2"):
        corpus.write(a, name, 3, marker=f"v1-{name}")
    a.json("import")
    assert a.json("push")["pushed"] == 8
    for name in ("swap", "drop_tail"):  # a second chunk of generation 1
        corpus.write(a, name, 2, start=3, append=True)
    old_replay = None
    a.json("import")
    assert a.json("push")["pushed"] == 2
    old_replay = db.chunk(sid("replay"), 1, 0)
    corpus.write(a, "replay", 4, marker="v2-replay")  # rewritten: generation 2
    a.json("import")
    assert a.json("push")["pushed"] == 1

    assert cloud.proc is not None
    cloud.proc.add_user(OTHER, PASSWORD)
    d = LorectlMachine(tmp_path, "d", server_url=cloud.url, passphrase="another passphrase")
    d.login(OTHER)
    own_d = corpus.write(d, "d1", 3)
    d.json("import")
    assert d.json("push")["pushed"] == 1

    # the attacker's edits
    flip = bytearray(db.chunk(sid("flip"), 1, 0))
    flip[len(flip) // 2] ^= 0x01
    db.set_chunk(sid("flip"), 1, 0, bytes(flip))
    trunc = db.chunk(sid("trunc"), 1, 0)
    db.set_chunk(sid("trunc"), 1, 0, trunc[: len(trunc) - 7])
    s0, s1 = db.chunk(sid("swap"), 1, 0), db.chunk(sid("swap"), 1, 1)
    db.set_chunk(sid("swap"), 1, 0, s1)
    db.set_chunk(sid("swap"), 1, 1, s0)
    db.set_chunk(sid("replay"), 2, 0, old_replay)
    db("DELETE FROM chunks WHERE session_id = ? AND idx = 1", sid("drop_tail"))
    db("UPDATE sessions SET chunk_count = 1, chunk_sizes = ? WHERE session_id = ?",
       json.dumps([len(db.chunk(sid("drop_tail"), 1, 0))]), sid("drop_tail"))
    acct1, acct2 = db.account(EMAIL), db.account(OTHER)
    cols = ("session_id, origin_machine_id, seq, generation, chunk_count, chunk_sizes, "
            "stored_bytes, deleted, meta, info, created_at, updated_at")
    (seq2,), = db("UPDATE accounts SET seq = seq + 1 WHERE account_id = ? RETURNING seq", acct2)
    db(f"INSERT INTO sessions (account_id, {cols}) SELECT ?, session_id, origin_machine_id, "
       "?, generation, chunk_count, chunk_sizes, stored_bytes, deleted, meta, info, "
       "created_at, updated_at FROM sessions WHERE account_id = ? AND session_id = ?",
       acct2, seq2, acct1, sid("moved"))
    db("INSERT INTO chunks (account_id, session_id, generation, idx, data, blob_key) "
       "SELECT ?, session_id, generation, idx, data, blob_key FROM chunks "
       "WHERE account_id = ? AND session_id = ?",
       acct2, acct1, sid("moved"))
    db("DELETE FROM chunks WHERE account_id = ? AND session_id = ?", acct1, sid("moved"))
    db("DELETE FROM sessions WHERE account_id = ? AND session_id = ?", acct1, sid("moved"))

    out = b.run("pull", "--json", check=False)
    doc = json.loads(out.stdout)
    assert out.returncode == 1 and "hint: " in out.stderr
    assert f"error: {len(BAD)} sessions could not be pulled" in out.stderr
    assert sorted(doc["sessions"]) == sorted([sid("ok1"), sid("ok2")])
    failed = {f["session_id"]: f for f in doc["failed"]}
    assert set(failed) == {sid(n) for n in BAD}
    for f in failed.values():
        assert f["reason"] == "corrupt" and "was refused" in f["message"]
        assert "failed verification" in f["message"], f
    expected = corpus.expected()
    assert digests(b) == {s: expected[s] for s in (sid("ok1"), sid("ok2"))}

    out = d.run("pull", "--json", check=False)  # the moved session, in account 2
    moved = json.loads(out.stdout)
    assert out.returncode == 1 and moved["sessions"] == []
    assert [(f["session_id"], f["reason"]) for f in moved["failed"]] == [(sid("moved"),
                                                                          "corrupt")]
    assert "failed verification" in moved["failed"][0]["message"]
    assert set(digests(d)) == {own_d}

    # everything else keeps syncing
    new = corpus.write(a, "ok3", 2)
    a.json("import")
    assert a.json("push")["sessions"] == [new]
    again = json.loads(b.run("pull", "--json", check=False).stdout)
    assert again["sessions"] == [new]
    assert {f["session_id"] for f in again["failed"]} == {sid(n) for n in BAD}
    assert digests(b)[new] == corpus.expected()[new]

    # a forged envelope: a machine holding the key refuses to transfer; a new machine
    # cannot open it; nothing is stored anywhere
    (raw,), = db("SELECT envelope FROM accounts WHERE account_id = ?", acct1)
    env = json.loads(raw)
    env["key_id"] = secrets.token_hex(16)
    wrapped = bytearray(env["wrapped"].encode())
    wrapped[5] = ord("A") if wrapped[5] != ord("A") else ord("B")
    env["wrapped"] = wrapped.decode()
    db("UPDATE accounts SET envelope = ? WHERE account_id = ?", json.dumps(env), acct1)
    before = digests(b)
    out = b.run("pull", check=False)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "unlock" in out.stderr, out.stderr
    assert digests(b) == before
    c = new_machine(tmp_path, cloud, "c")
    out = c.run("pull", check=False)
    assert out.returncode != 0 and "passphrase" in out.stderr.lower(), out.stderr
    assert digests(c) == {}
    corpus.write(a, "after_forgery", 2)
    a.json("import")
    out = a.run("push", check=False)  # the origin uploads nothing under a forged key
    assert out.returncode != 0 and "unlock" in out.stderr, out.stderr
    kind = "postgres+s3" if cloud.blob_store else "postgres" if cloud.database_url else "sqlite"
    record({"suite": f"tamper/{kind}",
            "tampered": len(BAD) + 2, "refused": len(failed) + len(moved["failed"]),
            "sessions_checked": 3 + 1})
