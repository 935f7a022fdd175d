"""One write transaction per push request, one savepoint per session (both backends)."""

from __future__ import annotations

from typing import Any

import pytest

from lorecloud.backends.base import PushPlan, PushTxn, SessionWrite
from lorecloud.config import Plan
from lorecloud.rules import make_planner
from lorecloud.service import SyncService
from loreproto import wire
from tests.contract.conftest import NewService
from tests.contract.helpers import PASSWORD, blob, feed, frame, machine

EMAIL = "batch@example.com"


def _planner(svc: SyncService, machine_id: str, *frame_args: Any) -> Any:
    header, parts = frame(*frame_args)
    return make_planner(header, parts, machine_id, svc.config.plan("pro"),
                        svc.config.max_session_bytes)


async def test_quota_sees_earlier_sessions_of_the_same_request(
    new_service: NewService,
) -> None:
    plans = {"free": Plan("free", max_sessions=2, storage_bytes=None),
             "pro": Plan("pro", max_sessions=None, storage_bytes=None)}
    svc = await new_service(open_registration=True, plans=plans)
    await svc.register(EMAIL, PASSWORD)
    a, b = await machine(svc, EMAIL, "a"), await machine(svc, EMAIL, "b")
    results = await svc.push(a, [frame(f"t:{i}", 1, 0, [blob()]) for i in range(3)])
    assert [r["status"] for r in results] == ["ok", "ok", wire.RESULT_QUOTA]
    assert [r["seq"] for r in results] == [1, 2, None]
    entries, cursor = await feed(svc, b)
    assert [e["session_id"] for e in entries] == ["t:0", "t:1"] and cursor == 2


async def test_a_failing_session_rolls_back_only_its_savepoint(svc: SyncService) -> None:
    await svc.register(EMAIL, PASSWORD)
    a, b = await machine(svc, EMAIL, "a"), await machine(svc, EMAIL, "b")

    async def write_fails(txn: PushTxn) -> PushPlan:
        # the session row and its seq are written, then the chunk insert fails (NOT NULL)
        await txn.session()
        bad = SessionWrite("a", 1, 1, [3], 3, {}, b"info", [(0, None)])  # type: ignore[list-item]
        return PushPlan(wire.RESULT_OK, "", bad)

    items = [("t:ok", _planner(svc, "a", "t:ok", 1, 0, [blob()])),
             ("t:bad", write_fails),
             ("t:never", _planner(svc, "a", "t:never", 1, 0, [blob()]))]
    with pytest.raises(Exception):  # noqa: B017,PT011  (sqlite3 / asyncpg error)
        await svc.backend.commit_push_many(a.account_id, items, "2026-01-01T00:00:00Z")
    # the session before the failure is committed; the failing one left nothing (not even
    # its seq); the one after it was never attempted
    assert (await svc.backend.session(a.account_id, "t:ok")) is not None
    assert (await svc.backend.session(a.account_id, "t:bad")) is None
    assert (await svc.backend.session(a.account_id, "t:never")) is None
    (r,) = await svc.push(a, [frame("t:next", 1, 0, [blob()])])
    assert r["status"] == "ok" and r["seq"] == 2
    entries, _ = await feed(svc, b)
    assert [(e["session_id"], e["seq"]) for e in entries] == [("t:ok", 1), ("t:next", 2)]


async def test_refusals_and_writes_mix_in_one_request(svc: SyncService) -> None:
    await svc.register(EMAIL, PASSWORD)
    a, b = await machine(svc, EMAIL, "a"), await machine(svc, EMAIL, "b")
    assert (await svc.push(b, [frame("t:b", 1, 0, [blob()])]))[0]["status"] == "ok"
    first = blob()
    results = await svc.push(a, [
        frame("t:1", 1, 0, [first]),
        frame("t:b", 1, 0, [blob()]),        # b's session
        frame("t:1", 1, 0, [blob()]),        # same index, other bytes (after t:1 above)
        frame("t:1", 1, 1, [blob()]),        # appends to the t:1 written in this request
        frame("t:2", 1, 3, [blob()]),        # not on the server yet
    ])
    assert [r["status"] for r in results] == [
        "ok", wire.RESULT_OWNED_ELSEWHERE, wire.RESULT_CONFLICT, "ok", wire.RESULT_CONFLICT]
    assert [r["seq"] for r in results] == [2, 1, 2, 3, None]
    row = await svc.backend.session(a.account_id, "t:1")
    assert row is not None and row.seq == 3 and row.chunk_count == 2


async def _story(svc: SyncService) -> tuple[list[Any], list[Any], list[Any]]:
    """Requests of distinct sessions (the batched path on SQLite): new sessions, a new
    generation, an append, a stale generation, another machine's session."""
    await svc.register(EMAIL, PASSWORD)
    a, b = await machine(svc, EMAIL, "a"), await machine(svc, EMAIL, "b")
    parts = [bytes([i]) * (50 + i) for i in range(12)]
    results = [await svc.push(b, [frame("t:b", 1, 0, [parts[0]])])]
    results.append(await svc.push(a, [frame(f"t:{i}", 1, 0, [parts[i], parts[i + 1]])
                                      for i in range(4)]))
    results.append(await svc.push(a, [
        frame("t:0", 2, 0, [parts[5]]),             # a new generation drops the old one
        frame("t:1", 1, 2, [parts[6]]),             # append
        frame("t:2", 1, 0, [parts[2], parts[3]]),   # same bytes again: idempotent
        frame("t:3", 0, 0, [parts[7]]),             # below the server's generation
        frame("t:b", 1, 0, [parts[8]]),             # b's session
        frame("t:9", 1, 0, [parts[9]]),             # new
    ]))
    entries, _ = await feed(svc, b)
    got = {}
    for sid, gen, count in [("t:0", 2, 1), ("t:1", 1, 3), ("t:2", 1, 2), ("t:9", 1, 1)]:
        got[sid] = await svc.fetch_chunks(a, [(sid, gen, i) for i in range(count)])
    old = await svc.fetch_chunks(a, [("t:0", 1, 0), ("t:0", 1, 1)])
    strip = [{k: v for k, v in e.items() if k not in ("updated_at",)} for e in entries]
    return results, strip, [got, old]


async def test_the_batched_sqlite_path_decides_as_the_per_session_path(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lorecloud.backends import sqlite as sqlite_backend
    from lorecloud.backends.sqlite import SqliteBackend
    from tests.serverproc import fast_config

    calls: list[int] = []
    real = sqlite_backend.commit_push_batch

    async def counted(*args: Any, **kw: Any) -> Any:
        out = await real(*args, **kw)
        calls.append(out is not None)
        return out

    async def story(name: str) -> tuple[list[Any], list[Any], list[Any]]:
        svc = await SyncService.create(await SqliteBackend.open(tmp_path / name),
                                       fast_config(open_registration=True))
        try:
            return await _story(svc)
        finally:
            await svc.close()

    monkeypatch.setattr(sqlite_backend, "commit_push_batch", counted)
    batched = await story("fast")
    assert calls and all(calls)  # every request went the batched way

    async def never(*args: Any, **kw: Any) -> None:
        return None

    monkeypatch.setattr(sqlite_backend, "commit_push_batch", never)
    per_session = await story("slow")
    assert batched == per_session
    results = batched[0]
    assert [r["status"] for r in results[2]] == [
        "ok", "ok", "ok", wire.RESULT_CONFLICT, wire.RESULT_OWNED_ELSEWHERE, "ok"]
    assert [r["seq"] for r in results[2]] == [6, 7, 4, 5, 1, 8]
    assert all(data is None for *_, data in batched[2][1])  # generation 1 of t:0 is gone
