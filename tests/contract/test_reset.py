"""Account reset and deletion rules (issue 10), told against every backend."""

from __future__ import annotations

import pytest

from lorecloud.errors import ServiceError
from lorecloud.service import SyncService
from loreproto import wire
from tests.contract.helpers import PASSWORD, blob, feed, machine, push_one

EMAIL = "dev@example.com"
OTHER = "other@example.com"


async def test_reset_erases_sessions_and_envelope_of_one_account(svc: SyncService) -> None:
    await svc.register(EMAIL, PASSWORD)
    await svc.register(OTHER, PASSWORD)
    a, b = await machine(svc, EMAIL, "a"), await machine(svc, EMAIL, "b")
    eve = await machine(svc, OTHER, "e")
    await svc.put_envelope(a, {"v": 1, "key_id": "k1"}, 0)
    await svc.put_envelope(eve, {"v": 1, "key_id": "ke"}, 0)
    await push_one(svc, a, "t:1", 1, 0, [blob(), blob()])
    await push_one(svc, a, "t:2", 1, 0, [blob()])
    await push_one(svc, b, "t:3", 1, 0, [blob()])
    await svc.delete_session(a, "t:2")  # a tombstone is erased as well
    await push_one(svc, eve, "t:1", 1, 0, [blob()])
    assert (await svc.account(b))["reset"] is None
    _, cursor_b = await feed(svc, b)

    with pytest.raises(ServiceError) as err:  # the email is the confirmation
        await svc.reset_account(a, OTHER)
    assert (err.value.code, err.value.status) == (wire.E_BAD_REQUEST, 400)
    assert (await svc.account(a))["usage"]["sessions"] == 2

    doc = await svc.reset_account(a, " Dev@Example.com ")
    assert doc["erased"] == 2 and doc["reset_by"] == "name-a" and doc["reset_at"]
    env = await svc.get_envelope(b)
    assert env["envelope"] is None and env["version"] == 2  # the version keeps counting
    acct = await svc.account(b)
    assert acct["reset"] == {"at": doc["reset_at"], "by": "name-a"}
    assert acct["usage"] == {"sessions": 0, "storage_bytes": 0}
    assert (await feed(svc, b))[0] == [] and (await feed(svc, a))[0] == []
    assert [d for *_, d in await svc.fetch_chunks(b, [("t:1", 1, 0)])] == [None]
    # the other account is untouched
    assert (await svc.account(eve))["reset"] is None
    assert (await svc.get_envelope(eve))["envelope"] == {"v": 1, "key_id": "ke"}
    assert len((await feed(svc, await machine(svc, OTHER, "e2")))[0]) == 1

    # a passphrase change prepared before the reset cannot land after it
    with pytest.raises(ServiceError) as err:
        await svc.put_envelope(b, {"v": 1, "key_id": "k1", "w": "late"}, 1)
    assert err.value.status == 409
    # a fresh setup (expected 0) creates the new envelope; a second one loses the race
    assert await svc.put_envelope(a, {"v": 1, "key_id": "k2"}, 0) == {"version": 3}
    with pytest.raises(ServiceError) as err:
        await svc.put_envelope(b, {"v": 1, "key_id": "k3"}, 0)
    assert err.value.extra["current"]["envelope"] == {"v": 1, "key_id": "k2"}

    # the feed continues after the old cursor: a machine that kept it misses nothing new
    r = await push_one(svc, a, "t:1", 1, 0, [blob()])  # generation 1 again is accepted
    assert r["status"] == "ok" and r["seq"] > cursor_b
    entries, _ = await feed(svc, b, cursor_b)
    assert [e["session_id"] for e in entries] == ["t:1"]


async def test_only_the_origin_deletes_and_the_refusal_names_it(svc: SyncService) -> None:
    await svc.register(EMAIL, PASSWORD)
    a, b = await machine(svc, EMAIL, "a"), await machine(svc, EMAIL, "b")
    await push_one(svc, a, "t:1", 1, 0, [blob()])
    with pytest.raises(ServiceError) as err:
        await svc.delete_session(b, "t:1")
    assert err.value.status == 409 and "name-a" in err.value.message
    assert "name-a" in (err.value.hint or "")
    assert await svc.delete_session(a, "t:1") == {"seq": 2}
    # tombstones are tiny and stay in the feed for every later full pull
    for _ in range(2):
        (entry,), _ = await feed(svc, b)
        assert entry["deleted"] is True and entry["stored_bytes"] == 0
