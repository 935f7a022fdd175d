"""The sync engine's contract, run against the in-process server and over real HTTP."""

from __future__ import annotations

import asyncio
import json

import pytest

from lored.crypto.kdf import new_data_key
from lored.crypto.keycache import CachedKey, load_key, save_key
from lored.errors import NotLoggedIn, SecretRequired, WrongKey, WrongPassphrase
from tests.sync.conftest import Cloud
from tests.sync.sessions import capture, lines, messages


async def test_push_pull_roundtrip_three_machines(cloud: Cloud) -> None:
    a, b, c = [await cloud.machine(n) for n in "abc"]
    s1 = await capture(a.lore, lines("s1", 6, marker="alpha"))
    s2 = await capture(a.lore, lines("s2", 3, marker="beta"))
    pushed = await a.lore.push()
    assert sorted(pushed["sessions"]) == sorted([s1, s2]) and pushed["skipped"] == []
    assert pushed["bytes_uploaded"] > 0 and a.asked == ["new_passphrase"]

    for m in (b, c):
        pulled = await m.lore.pull()
        assert sorted(pulled["sessions"]) == sorted([s1, s2]) and pulled["failed"] == []
        assert m.asked == ["passphrase"]
        assert await messages(m.lore, s1) == await messages(a.lore, s1)
        again = await m.lore.pull()
        assert again == {"pulled": 0, "sessions": [], "bytes_downloaded": 0, "failed": [],
                         "deleted": []}

    s3 = await capture(b.lore, lines("s3", 2, marker="gamma"))
    result = await b.lore.sync()
    assert result["pull"]["pulled"] == 0 and result["push"]["sessions"] == [s3]
    for m in (a, c):
        got = await m.lore.pull()
        assert got["sessions"] == [s3]  # own sessions never come back
        assert await messages(m.lore, s3) == await messages(b.lore, s3)
    rows = {r.id: r for r in await a.lore.store.list_sessions()}
    assert rows[s1].local and not rows[s3].local and rows[s3].origin_machine_id == b.id
    assert (await a.lore.push())["pushed"] == 0


async def test_append_uploads_only_the_tail(cloud: Cloud) -> None:
    a, b = await cloud.machine("a"), await cloud.machine("b")
    base = lines("big", 40, pad=120_000)  # ≈ 5 MB
    sid = await capture(a.lore, base)
    first = await a.lore.push()
    assert first["bytes_uploaded"] > 2_000_000
    await b.lore.pull()

    tail = lines("big", 1, start=40, pad=1000)  # ≈ 1 KB more
    await capture(a.lore, base + tail)
    second = await a.lore.push()
    assert second["sessions"] == [sid]
    assert second["bytes_uploaded"] < 4_000, second
    pulled = await b.lore.pull()
    assert pulled["sessions"] == [sid] and pulled["bytes_downloaded"] < 4_000
    assert await b.lore.store.load_payload(sid) == base + tail
    assert len(await messages(b.lore, sid)) == 41


async def test_rewrite_is_a_new_generation(cloud: Cloud) -> None:
    a, b = await cloud.machine("a"), await cloud.machine("b")
    sid = await capture(a.lore, lines("rw", 4, marker="old"))
    await a.lore.push()
    await b.lore.pull()
    new = lines("rw", 2, marker="new")
    await capture(a.lore, new)
    assert (await a.lore.push())["sessions"] == [sid]
    assert (await b.lore.pull())["sessions"] == [sid]
    assert await b.lore.store.load_payload(sid) == new
    state = await b.lore.store.remote_state(sid)
    assert state is not None and state.generation == 2


async def test_dry_run_uploads_nothing(cloud: Cloud) -> None:
    a = await cloud.machine("a")
    sid = await capture(a.lore, lines("d", 2))
    plan = await a.lore.push(dry_run=True)
    assert plan["dry_run"] and plan["sessions"] == [sid] and plan["bytes_uploaded"] == 0
    assert a.asked == []  # no passphrase needed to look
    assert (await a.lore.push())["sessions"] == [sid]


async def test_wrong_passphrase_writes_nothing(cloud: Cloud) -> None:
    a = await cloud.machine("a")
    await capture(a.lore, lines("w", 2))
    await a.lore.push()
    b = await cloud.machine("b", passphrase="not the passphrase")
    with pytest.raises(WrongPassphrase):
        await b.lore.pull()
    assert await b.lore.store.counts() == (0, 0)
    assert load_key(b.lore.settings.paths.key_file) is None
    assert not b.lore.encryption_configured()


async def test_pull_reads_the_cursor_again_when_the_key_check_forgets_state(
        cloud: Cloud) -> None:
    # the key check runs while the first page downloads; when it forgets sync state made
    # with another key (an account reset elsewhere), the pull must start over from the
    # forgotten cursor instead of trusting the page it asked for with the old one
    from lored.sync.reset import SYNC_KEY_ID

    a, b = await cloud.machine("a"), await cloud.machine("b")
    sid = await capture(a.lore, lines("f", 2))
    await a.lore.push()
    assert (await b.lore.pull())["sessions"] == [sid]
    assert await b.lore.store.get_cursor() > 0
    await b.lore.store.kv_set(SYNC_KEY_ID, "an-older-key-id")
    again = await b.lore.pull()
    assert again["sessions"] == [sid] and not again["failed"]
    assert await b.lore.store.kv_get(SYNC_KEY_ID) not in (None, "an-older-key-id")


async def test_pull_key_error_surfaces_when_the_feed_is_empty(cloud: Cloud) -> None:
    # nothing to open, so the run never waits for the key: its error still comes out
    a = await cloud.machine("a")
    await a.lore.push()  # sets up encryption, uploads nothing
    b = await cloud.machine("b", passphrase="not the passphrase")
    with pytest.raises(WrongPassphrase):
        await b.lore.pull()
    assert await b.lore.store.get_cursor() == 0


async def test_missing_passphrase_is_secret_required(cloud: Cloud) -> None:
    a = await cloud.machine("a", passphrase=None)
    await capture(a.lore, lines("x", 2))
    with pytest.raises(SecretRequired):
        await a.lore.push()
    assert (await a.lore.store.counts())[1] == 1  # still pending


async def test_wrong_cached_key_stops_before_transfer(cloud: Cloud) -> None:
    a, b = await cloud.machine("a"), await cloud.machine("b")
    await capture(a.lore, lines("k", 2))
    await a.lore.push()
    creds = b.lore.credentials
    assert creds is not None
    other = new_data_key()
    from lored.crypto.kdf import key_id

    save_key(b.lore.settings.paths.key_file, CachedKey(other, key_id(other), creds.account_id))
    with pytest.raises(WrongKey):
        await b.lore.pull()
    await capture(b.lore, lines("kb", 2))
    with pytest.raises(WrongKey):
        await b.lore.push()
    assert await b.lore.store.counts() == (1, 1)
    await b.lore.unlock()  # asks for the passphrase and replaces the cache
    assert (await b.lore.pull())["pulled"] == 1


async def test_setup_race_same_passphrase(cloud: Cloud) -> None:
    a, b = await cloud.machine("a"), await cloud.machine("b")
    await capture(a.lore, lines("ra", 2))
    await capture(b.lore, lines("rb", 2))
    ra, rb = await asyncio.gather(a.lore.push(), b.lore.push())
    assert ra["pushed"] == 1 and rb["pushed"] == 1
    ka, kb = (load_key(m.lore.settings.paths.key_file) for m in (a, b))
    assert ka and kb and ka.key_id == kb.key_id
    assert (await a.lore.pull())["pulled"] == 1 and (await b.lore.pull())["pulled"] == 1


async def test_setup_race_different_passphrase(cloud: Cloud) -> None:
    a = await cloud.machine("a")
    b = await cloud.machine("b", passphrase="another passphrase")
    await capture(a.lore, lines("ra", 2))
    await capture(b.lore, lines("rb", 2))
    results = await asyncio.gather(a.lore.push(), b.lore.push(), return_exceptions=True)
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], WrongPassphrase)


async def test_passphrase_change(cloud: Cloud) -> None:
    a, b = await cloud.machine("a"), await cloud.machine("b")
    await capture(a.lore, lines("p", 2))
    await a.lore.push()
    await b.lore.pull()
    with pytest.raises(WrongPassphrase):
        await a.lore.change_passphrase("wrong one!", "brand new passphrase")
    await a.lore.change_passphrase(a.passphrase or "", "brand new passphrase")
    sid = await capture(a.lore, lines("p2", 2))
    await a.lore.push()
    assert (await b.lore.pull())["sessions"] == [sid]  # cached key keeps working
    old = await cloud.machine("c")
    with pytest.raises(WrongPassphrase):
        await old.lore.pull()
    new = await cloud.machine("d", passphrase="brand new passphrase")
    assert (await new.lore.pull())["pulled"] == 2


async def test_tombstone_removes_pulled_copy(cloud: Cloud) -> None:
    a, b = await cloud.machine("a"), await cloud.machine("b")
    sid = await capture(a.lore, lines("t", 2))
    keep = await capture(a.lore, lines("t2", 2))
    await a.lore.push()
    await b.lore.pull()
    await a.lore.engine().remote.delete_session(sid)
    got = await b.lore.pull()
    assert got["deleted"] == [sid]
    assert [r.id for r in await b.lore.store.list_sessions()] == [keep]


async def test_lost_push_record_is_retried_as_new_generation(cloud: Cloud) -> None:
    """kill -9 between the server's commit and mark_pushed: the next push conflicts,
    then re-sends the session as a fresh generation; the other machine ends up equal."""
    a, b = await cloud.machine("a"), await cloud.machine("b")
    payload = lines("lost", 4)
    sid = await capture(a.lore, payload)
    await a.lore.push()
    await b.lore.pull()
    async with a.lore.store.transaction() as db:  # forget the push, as a crash would
        await db.execute("UPDATE sessions SET pushed_generation = 0, pushed_chunks = 0, "
                         "pushed_length = 0, pushed_hash = NULL, dirty = 1 WHERE id = ?",
                         (sid,))
    more = payload + lines("lost", 1, start=4)
    await capture(a.lore, more)
    out = await a.lore.push()
    assert out["sessions"] == [sid] and out["skipped"] == []
    assert (await b.lore.pull())["sessions"] == [sid]
    assert await b.lore.store.load_payload(sid) == more


async def test_owned_elsewhere_is_skipped(cloud: Cloud) -> None:
    a, b = await cloud.machine("a"), await cloud.machine("b")
    payload = lines("same", 2)
    sid = await capture(a.lore, payload)
    await a.lore.push()
    await capture(b.lore, payload + lines("same", 1, start=2))  # same id, captured on b too
    other = await capture(b.lore, lines("mine", 2))
    out = await b.lore.push()
    assert out["sessions"] == [other]
    assert [(s["session_id"], s["reason"]) for s in out["skipped"]] == [
        (sid, "owned_elsewhere")]
    assert "kept locally" in out["skipped"][0]["message"]


async def test_not_logged_in(cloud: Cloud) -> None:
    m = await cloud.machine("x", login=False)
    with pytest.raises(NotLoggedIn):
        await m.lore.push()
    status = await m.lore.status()
    assert status["account"] is None and status["cloud"] is None
    assert status["local"]["next_auto_sync"] is None


async def test_status_after_sync(cloud: Cloud) -> None:
    a = await cloud.machine("a")
    await capture(a.lore, lines("st", 2))
    await a.lore.sync()
    doc = await a.lore.status(daemon={"running": True, "next_auto_sync": "2030-01-01T00:00:00Z"})
    assert doc["account"]["email"] == "dev@example.com" and doc["account"]["plan"]
    assert doc["cloud"]["sessions"] == 1 and doc["cloud"]["storage_bytes"] > 0
    # index_pending: its messages are not in the search index yet (no daemon catches up)
    assert doc["local"] == {"total_sessions": 1, "pending_sync": 0, "skipped_too_large": 0,
                            "index_pending": 1, "last_sync": doc["local"]["last_sync"],
                            "next_auto_sync": "2030-01-01T00:00:00Z"}
    assert doc["local"]["last_sync"] and doc["encryption"]["configured"]
    assert len(doc["encryption"]["key_id"]) == 32
    json.dumps(doc)


async def test_logout_keeps_sessions(cloud: Cloud) -> None:
    a = await cloud.machine("a")
    await capture(a.lore, lines("lo", 2))
    await a.lore.push()
    out = await a.lore.logout()
    assert out["logged_out"] and out["revoked"]
    paths = a.lore.settings.paths
    assert not paths.token_file.exists() and not paths.key_file.exists()
    assert (await a.lore.store.counts())[0] == 1
    with pytest.raises(NotLoggedIn):
        await a.lore.pull()


async def test_revoked_machine_is_told_so(cloud: Cloud) -> None:
    from lored.errors import MachineRevoked

    a, b = await cloud.machine("a"), await cloud.machine("b")
    creds = a.lore.credentials
    assert creds is not None
    await b.lore.engine().remote.account()
    # revoke A's token from elsewhere (dashboard / another session of the same token)
    other = cloud.new_remote()
    other._token = creds.token  # type: ignore[attr-defined]
    await other.logout()
    await other.close()
    with pytest.raises(MachineRevoked, match="this machine was signed out"):
        await a.lore.pull()
    status = await a.lore.status()
    assert status["cloud"] is None and status["cloud_error"]["code"] == "machine_revoked"
    assert (await b.lore.pull())["failed"] == []  # other machines are unaffected


async def test_minimal_privacy_hides_project_path(cloud: Cloud) -> None:
    a, b = await cloud.machine("a"), await cloud.machine("b")
    a.lore.settings.privacy_metadata = "minimal"
    sid = await capture(a.lore, lines("priv", 2, project="/home/dev/secret-project"))
    await a.lore.push()
    page = await b.lore.engine().remote.changes(0, 10)
    (entry,) = page.changes
    assert entry["session_id"] == sid and entry["meta"]["project_path"] == ""
    assert entry["meta"]["tool"] == "claude-code" and entry["meta"]["message_count"] == 2
    await b.lore.pull()
    (row,) = await b.lore.store.list_sessions()
    assert row.project_path == "/home/dev/secret-project"  # recomputed from the payload


async def test_origin_applies_a_tombstone_made_elsewhere(cloud: Cloud) -> None:
    """Deleted on the server without the origin's local copy (the dashboard's delete):
    the origin's next pull removes it and remembers, so its next push cannot revive it."""
    a, b = await cloud.machine("a"), await cloud.machine("b")
    sid = await capture(a.lore, lines("dash", 2))
    keep = await capture(a.lore, lines("dash2", 2))
    await a.lore.push()
    await b.lore.pull()
    await a.lore.engine().remote.delete_session(sid)  # the server-side tombstone only
    got = await a.lore.pull()
    assert got["deleted"] == [sid] and got["pulled"] == 0
    assert [r.id for r in await a.lore.store.list_sessions()] == [keep]
    assert await a.lore.store.is_deleted(sid)
    assert (await a.lore.push())["pushed"] == 0
    assert (await b.lore.pull())["deleted"] == [sid]
    assert (await a.lore.pull(all=True))["pulled"] == 0  # own tombstones are harmless again
    assert [r.id for r in await a.lore.store.list_sessions()] == [keep]
