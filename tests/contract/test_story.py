"""One story of Lore Cloud's rules, told against every backend (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from lorecloud.config import Plan
from lorecloud.errors import ServiceError
from lorecloud.service import SyncService
from loreproto import wire
from tests.contract.conftest import NewService
from tests.contract.helpers import PASSWORD, blob, feed, frame, machine, push_one

EMAIL = "dev@example.com"


async def test_accounts_tokens_and_rate_limit(new_service: NewService) -> None:
    closed = await new_service()
    with pytest.raises(ServiceError) as err:
        await closed.register(EMAIL, PASSWORD)
    assert (err.value.code, err.value.status) == (wire.E_REGISTRATION_CLOSED, 403)

    svc = await new_service(open_registration=True)
    doc = await svc.register(" Dev@Example.com ", PASSWORD)
    assert doc["email"] == EMAIL
    with pytest.raises(ServiceError) as err:
        await svc.register(EMAIL, PASSWORD)
    assert err.value.code == wire.E_CONFLICT
    with pytest.raises(ServiceError) as err:
        await svc.register("other@example.com", "short")
    assert err.value.code == wire.E_BAD_REQUEST

    login = await svc.login(EMAIL, PASSWORD, "m1", "laptop")
    assert login["account_id"] == doc["account_id"] and len(login["token"]) >= 40
    who = await svc.authenticate(login["token"])
    assert (who.account_id, who.machine_id, who.machine_name) == (doc["account_id"], "m1",
                                                                  "laptop")
    await svc.logout(login["token"])
    with pytest.raises(ServiceError) as err:
        await svc.authenticate(login["token"])
    assert (err.value.code, err.value.status) == (wire.E_REVOKED, 401)
    with pytest.raises(ServiceError) as err:
        await svc.authenticate("not-a-token")
    assert (err.value.code, err.value.status) == (wire.E_UNAUTHORIZED, 401)

    # tokens are stored hashed: the raw token is nowhere in the backend's token table
    assert await svc.backend.token(login["token"]) is None

    for _ in range(5):
        with pytest.raises(ServiceError) as err:
            await svc.login(EMAIL, "wrong-password", "m1", "laptop", client_ip="10.0.0.9")
        assert err.value.code == wire.E_BAD_CREDENTIALS
    with pytest.raises(ServiceError) as err:
        await svc.login(EMAIL, PASSWORD, "m1", "laptop", client_ip="10.0.0.9")
    assert err.value.code == wire.E_RATE_LIMITED and err.value.status == 429
    assert 1 <= err.value.extra["retry_after"] <= 60
    # another client address is not locked out by someone else's guessing
    assert (await svc.login(EMAIL, PASSWORD, "m1", "laptop", client_ip="10.0.0.10"))["token"]


async def test_envelope_create_only_then_conditional(svc: SyncService) -> None:
    await svc.register(EMAIL, PASSWORD)
    a, b = await machine(svc, EMAIL, "a"), await machine(svc, EMAIL, "b")
    assert await svc.get_envelope(a) == {"envelope": None, "version": 0}
    env1, env2 = {"v": 1, "key_id": "k1", "wrapped": "AAA"}, {"v": 1, "key_id": "k1", "w": "B"}
    assert await svc.put_envelope(a, env1, 0) == {"version": 1}
    with pytest.raises(ServiceError) as err:  # the loser of a setup race
        await svc.put_envelope(b, env2, 0)
    assert err.value.status == 409
    assert err.value.extra["current"] == {"envelope": env1, "version": 1}
    assert await svc.put_envelope(b, env2, 1) == {"version": 2}
    with pytest.raises(ServiceError):
        await svc.put_envelope(a, env1, 1)
    assert await svc.get_envelope(a) == {"envelope": env2, "version": 2}


async def test_push_append_retry_conflict_generation(svc: SyncService) -> None:
    await svc.register(EMAIL, PASSWORD)
    a, b = await machine(svc, EMAIL, "a"), await machine(svc, EMAIL, "b")
    sid = "claude-code:s1"
    c0, c1, c2 = blob(), blob(), blob()
    r = await push_one(svc, a, sid, 1, 0, [c0])
    assert (r["status"], r["seq"], r["generation"], r["chunk_count"]) == ("ok", 1, 1, 1)
    r = await push_one(svc, a, sid, 1, 1, [c1])  # append
    assert (r["status"], r["seq"], r["chunk_count"]) == ("ok", 2, 2)
    r = await push_one(svc, a, sid, 1, 1, [c1])  # identical retry: idempotent, no new seq
    assert (r["status"], r["seq"], r["chunk_count"]) == ("ok", 2, 2)
    r = await push_one(svc, a, sid, 1, 1, [c1, c2])  # retry overlapping + one new chunk
    assert (r["status"], r["seq"], r["chunk_count"]) == ("ok", 3, 3)
    r = await push_one(svc, a, sid, 1, 1, [blob()])  # different bytes at a stored index
    assert r["status"] == "conflict" and (r["generation"], r["chunk_count"]) == (1, 3)
    r = await push_one(svc, a, sid, 1, 5, [blob()])  # gap
    assert r["status"] == "conflict"
    r = await push_one(svc, a, sid, 2, 1, [blob()])  # new generation not from chunk 0
    assert r["status"] == "conflict"
    got = await svc.fetch_chunks(b, [(sid, 1, 0), (sid, 1, 1), (sid, 1, 2)])
    assert [d for *_, d in got] == [c0, c1, c2]

    n0 = blob(100)
    r = await push_one(svc, a, sid, 2, 0, [n0], info=b"new-info", message_count=9)
    assert (r["status"], r["seq"], r["generation"], r["chunk_count"]) == ("ok", 4, 2, 1)
    got = await svc.fetch_chunks(b, [(sid, 1, 0), (sid, 1, 2), (sid, 2, 0)])
    assert [d for *_, d in got] == [None, None, n0]  # the old generation is gone
    r = await push_one(svc, a, sid, 1, 3, [blob()])  # a stale machine at generation 1
    assert (r["status"], r["generation"]) == ("conflict", 2)

    (entry,), _ = await feed(svc, b)
    assert entry["session_id"] == sid and entry["generation"] == 2
    assert entry["chunk_sizes"] == [100] and entry["stored_bytes"] == 100 + len(b"new-info")
    assert entry["meta"]["message_count"] == 9 and entry["info"] == "bmV3LWluZm8="
    assert entry["origin_machine_id"] == "a" and entry["origin_machine_name"] == "name-a"


async def test_owned_elsewhere_and_too_large(new_service: NewService) -> None:
    svc = await new_service(open_registration=True, max_session_bytes=100_000)
    await svc.register(EMAIL, PASSWORD)
    a, b = await machine(svc, EMAIL, "a"), await machine(svc, EMAIL, "b")
    assert (await push_one(svc, a, "codex:x", 1, 0, [blob()]))["status"] == "ok"
    r = await push_one(svc, b, "codex:x", 1, 1, [blob()])
    assert r["status"] == wire.RESULT_OWNED_ELSEWHERE and "name-a" in r["message"]
    r = await push_one(svc, a, "codex:big", 1, 0, [blob()], payload_bytes=200_000)
    assert r["status"] == wire.RESULT_TOO_LARGE and "MB" in r["message"]
    r = await push_one(svc, a, "codex:big2", 1, 0, [blob(90_000), blob(90_000)])
    assert r["status"] == wire.RESULT_TOO_LARGE
    assert (await svc.account(a))["limits"]["max_session_bytes"] == 100_000
    # one result per session, in order; the rest of the batch still commits
    results = await svc.push(a, [frame("codex:big3", 1, 0, [blob(200_000)]),
                                 frame("codex:fine", 1, 0, [blob()])])
    assert [r["status"] for r in results] == ["too_large", "ok"]


async def test_quota_on_a_small_free_plan(new_service: NewService) -> None:
    plans = {"free": Plan("free", max_sessions=2, storage_bytes=5_000),
             "pro": Plan("pro", max_sessions=None, storage_bytes=None)}
    svc = await new_service(open_registration=True, plans=plans)
    await svc.register(EMAIL, PASSWORD)
    a = await machine(svc, EMAIL, "a")
    assert (await push_one(svc, a, "t:1", 1, 0, [blob(100)]))["status"] == "ok"
    assert (await push_one(svc, a, "t:2", 1, 0, [blob(100)]))["status"] == "ok"
    r = await push_one(svc, a, "t:3", 1, 0, [blob(100)])
    assert r["status"] == wire.RESULT_QUOTA and "free plan" in r["message"]
    r = await push_one(svc, a, "t:2", 1, 1, [blob(6_000)])  # storage quota
    assert r["status"] == wire.RESULT_QUOTA and "free plan" in r["message"]
    assert (await push_one(svc, a, "t:2", 1, 1, [blob(100)]))["status"] == "ok"
    await svc.delete_session(a, "t:1")  # a tombstone frees its slot
    assert (await push_one(svc, a, "t:3", 1, 0, [blob(100)]))["status"] == "ok"
    doc = await svc.account(a)
    assert doc["plan"] == "free" and doc["limits"]["max_sessions"] == 2
    assert doc["usage"]["sessions"] == 2


async def test_quota_is_counted_across_the_sessions_of_one_push(new_service: NewService
                                                                 ) -> None:
    plans = {"free": Plan("free", max_sessions=3, storage_bytes=1_000),
             "pro": Plan("pro", max_sessions=None, storage_bytes=None)}
    svc = await new_service(open_registration=True, plans=plans)
    await svc.register(EMAIL, PASSWORD)
    a = await machine(svc, EMAIL, "a")
    assert (await push_one(svc, a, "t:0", 1, 0, [blob(100)]))["status"] == "ok"
    await svc.delete_session(a, "t:0")  # a tombstone counts for nothing
    # one request: t:1 new, t:1 again (an append: bytes grow, the count does not), t:0
    # back from its tombstone, t:2 new; then t:3 (4th session) and t:4 (bytes) refused
    results = await svc.push(a, [frame("t:1", 1, 0, [blob(100)]),
                                 frame("t:1", 1, 1, [blob(100)]),
                                 frame("t:0", 2, 0, [blob(100)]),
                                 frame("t:2", 1, 0, [blob(100)]),
                                 frame("t:3", 1, 0, [blob(50)])])
    assert [r["status"] for r in results] == ["ok", "ok", "ok", "ok", wire.RESULT_QUOTA]
    usage = (await svc.account(a))["usage"]
    assert usage["sessions"] == 3
    room = 1_000 - usage["storage_bytes"]
    big, small = [frame("t:1", 1, 2, [blob(room + 1)])], [frame("t:1", 1, 2, [blob(10)])]
    assert (await svc.push(a, big + small))[0]["status"] == wire.RESULT_QUOTA
    assert (await svc.account(a))["usage"]["storage_bytes"] == 1_000 - room + 10


async def test_changes_paging_exclusion_and_cursor(svc: SyncService) -> None:
    await svc.register(EMAIL, PASSWORD)
    a, b, c = [await machine(svc, EMAIL, m) for m in "abc"]
    for i in range(7):  # a and b interleave
        await push_one(svc, a if i % 2 == 0 else b, f"t:{i}", 1, 0, [blob()])
    seen, cursor = [], 0
    while True:
        page = await svc.changes(a, cursor, 2)
        assert len(page["changes"]) <= 2
        seen += page["changes"]
        cursor = page["cursor"]
        if not page["more"]:
            break
    assert [e["session_id"] for e in seen] == ["t:1", "t:3", "t:5"]  # b's, never a's own
    assert cursor == 7  # moved past a's own sessions too
    assert (await svc.changes(a, cursor, 2)) == {"changes": [], "cursor": 7, "more": False,
                                                      "remaining": 0}
    everything, _ = await feed(svc, c)
    assert [e["seq"] for e in everything] == list(range(1, 8))
    await push_one(svc, b, "t:1", 1, 1, [blob()])  # an append moves t:1 to the end
    page = await svc.changes(a, 7, 10)
    assert [(e["session_id"], e["seq"], e["chunk_count"]) for e in page["changes"]] == [
        ("t:1", 8, 2)]
    with pytest.raises(ServiceError):
        await svc.changes(a, -1, 10)


async def test_fetch_is_scoped_to_the_account(svc: SyncService) -> None:
    await svc.register(EMAIL, PASSWORD)
    await svc.register("eve@example.com", PASSWORD)
    a, eve = await machine(svc, EMAIL, "a"), await machine(svc, "eve@example.com", "e")
    secret = blob()
    await push_one(svc, a, "t:secret", 1, 0, [secret])
    assert await svc.fetch_chunks(eve, [("t:secret", 1, 0)]) == [("t:secret", 1, 0, None)]
    assert (await feed(svc, eve))[0] == []
    with pytest.raises(ServiceError) as err:
        await svc.delete_session(eve, "t:secret")
    assert err.value.status == 404
    with pytest.raises(ServiceError):
        await svc.fetch_chunks(a, [("t:secret", 1, 0)] * (wire.MAX_FETCH_CHUNKS + 1))


async def test_tombstone_and_revival(svc: SyncService) -> None:
    await svc.register(EMAIL, PASSWORD)
    a, b = await machine(svc, EMAIL, "a"), await machine(svc, EMAIL, "b")
    await push_one(svc, a, "t:1", 1, 0, [blob(), blob()])
    with pytest.raises(ServiceError) as err:
        await svc.delete_session(b, "t:1")  # only the origin deletes through the API
    assert err.value.status == 409
    assert await svc.delete_session(a, "t:1") == {"seq": 2}
    assert await svc.delete_session(a, "t:1") == {"seq": 2}  # idempotent
    with pytest.raises(ServiceError) as err:
        await svc.delete_session(a, "t:nope")
    assert err.value.code == wire.E_NOT_FOUND
    (entry,), _ = await feed(svc, b)
    assert entry["deleted"] is True and entry["info"] is None and entry["seq"] == 2
    assert entry["chunk_count"] == 0 and entry["stored_bytes"] == 0
    assert [d for *_, d in await svc.fetch_chunks(b, [("t:1", 1, 0)])] == [None]
    assert (await svc.account(b))["usage"] == {"sessions": 0, "storage_bytes": 0}
    r = await push_one(svc, a, "t:1", 1, 0, [blob()])  # same generation cannot revive
    assert r["status"] == "conflict"
    r = await push_one(svc, a, "t:1", 2, 0, [blob()])
    assert (r["status"], r["seq"], r["generation"]) == ("ok", 3, 2)
    (entry,), _ = await feed(svc, b)
    assert entry["deleted"] is False and entry["chunk_count"] == 1


async def test_account_doc_usage_and_admin(svc: SyncService) -> None:
    await svc.add_user(EMAIL, PASSWORD, "pro")
    a, b = await machine(svc, EMAIL, "a"), await machine(svc, EMAIL, "b")
    doc = await svc.account(a)
    assert doc["last_sync"] is None and doc["usage"] == {"sessions": 0, "storage_bytes": 0}
    await push_one(svc, a, "t:1", 1, 0, [blob(100)], info=b"12345")
    await svc.changes(b, 0, 10)
    doc = await svc.account(a)
    assert doc["email"] == EMAIL and doc["plan"] == "pro"
    assert doc["usage"] == {"sessions": 1, "storage_bytes": 105}
    assert doc["machine"] == {"id": "a", "name": "name-a"}
    assert doc["limits"] == {
        "max_session_bytes": wire.DEFAULT_MAX_SESSION_BYTES, "max_sessions": None,
        "storage_bytes": 10 * 1024**3,
        "max_request_bytes": wire.max_request_bytes(wire.DEFAULT_MAX_SESSION_BYTES),
        "max_batch_sessions": wire.MAX_BATCH_SESSIONS, "max_chunk_bytes": wire.MAX_CHUNK_BYTES,
        "max_fetch_chunks": wire.MAX_FETCH_CHUNKS}
    machines = {m["id"]: m for m in doc["machines"]}
    assert machines["a"]["sessions"] == 1 and machines["b"]["sessions"] == 0
    assert machines["a"]["last_sync"] and machines["b"]["last_sync"]
    assert doc["last_sync"] == max(machines["a"]["last_sync"], machines["b"]["last_sync"])

    assert await svc.revoke_machine(a.account_id, "b") == 1
    assert {m["id"]: m["active"] for m in (await svc.account(a))["machines"]} == {
        "a": True, "b": False}
    users = await svc.list_users()
    assert [(u["email"], u["plan"], u["sessions"], u["storage_bytes"]) for u in users] == [
        (EMAIL, "pro", 1, 105)]
    await svc.remove_user(EMAIL)
    assert await svc.list_users() == []
    with pytest.raises(ServiceError) as err:
        await svc.authenticate("whatever")
    assert err.value.status == 401
    with pytest.raises(ServiceError):
        await svc.remove_user(EMAIL)
