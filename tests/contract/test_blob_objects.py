"""The object-store invariants on PostgreSQL + S3 (a real SeaweedFS): a chunk is one
object under ``<account>/<sha256>``, written before the commit, never overwritten, and
deleted only after the commit that drops its last row; gc removes old orphans only."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from lorecloud.backends._blobrows import Staged, ensure
from lorecloud.blobs import open_blob_store
from lorecloud.maintenance import collect_garbage
from lorecloud.service import SyncService
from loreproto import wire
from tests.contract.helpers import PASSWORD, blob, machine, push_one
from tests.s3server import WeedServer
from tests.serverproc import fast_config

EMAIL = "objects@example.com"


@pytest.fixture
async def s3svc(pg_database: str, s3_store: str) -> AsyncIterator[SyncService]:
    """A service on PostgreSQL whose chunks live in a fresh bucket."""
    from lorecloud.backends.postgres import PostgresBackend

    backend = await PostgresBackend.open(pg_database, blobs=await open_blob_store(s3_store))
    svc = await SyncService.create(backend, fast_config(open_registration=True))
    await svc.register(EMAIL, PASSWORD)
    yield svc
    await svc.close()


def _objects(s3: WeedServer, url: str) -> dict[str, bytes]:
    bucket = urlsplit(url).hostname
    c = s3.client()
    keys = [o["Key"] for o in c.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {k: c.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


async def _rows(svc: SyncService) -> list[dict[str, Any]]:
    return await svc.backend.fetch_all(  # type: ignore[attr-defined, no-any-return]
        "SELECT session_id, generation, idx, length(data) AS n, blob_key FROM chunks "
        "ORDER BY session_id, generation, idx", [])


async def test_chunks_are_write_once_objects_swept_after_commit(
    s3svc: SyncService, s3_server: WeedServer, s3_store: str
) -> None:
    svc = s3svc
    a = await machine(svc, EMAIL, "m-a")
    c0, c1 = blob(300_000), blob(5000)
    assert (await push_one(svc, a, "t:1", 1, 0, [c0, c1]))["status"] == "ok"
    objs = _objects(s3_server, s3_store)
    keys = {f"{a.account_id}/{hashlib.sha256(c).hexdigest()}": c for c in (c0, c1)}
    assert objs == keys  # one object per chunk, content-addressed, the exact sealed bytes
    assert [(r["n"], r["blob_key"]) for r in await _rows(svc)] == [(0, k) for k in keys]

    # an identical retry finds the objects present (412) and changes nothing
    assert (await push_one(svc, a, "t:1", 1, 0, [c0, c1]))["status"] == "ok"
    assert _objects(s3_server, s3_store) == keys

    # fetches stream the object: the frames equal what the inline encoder makes
    sources = await svc.chunk_sources(a, [("t:1", 1, 0), ("t:1", 1, 9)])
    streamed = b"".join([b async for b in svc.chunk_frames(sources)])
    assert streamed == b"".join(wire.encode_chunk_frame("t:1", 1, 0, c0)
                                + wire.encode_chunk_frame("t:1", 1, 9, None))

    # a new generation replaces the session: the old objects go after its commit
    n0 = blob(700)
    assert (await push_one(svc, a, "t:1", 2, 0, [n0]))["status"] == "ok"
    assert set(_objects(s3_server, s3_store)) == {f"{a.account_id}/"
                                                  f"{hashlib.sha256(n0).hexdigest()}"}
    # a tombstone removes the session's objects; a reset removes the rest
    assert (await push_one(svc, a, "t:2", 1, 0, [blob(900)]))["status"] == "ok"
    await svc.delete_session(a, "t:1")
    assert len(_objects(s3_server, s3_store)) == 1
    await svc.reset_account(a, EMAIL)
    assert _objects(s3_server, s3_store) == {}
    assert await _rows(svc) == []


async def test_gc_removes_old_orphans_only(
    s3svc: SyncService, s3_server: WeedServer, s3_store: str
) -> None:
    svc = s3svc
    a = await machine(svc, EMAIL, "m-a")
    kept = blob(2000)
    assert (await push_one(svc, a, "t:1", 1, 0, [kept]))["status"] == "ok"
    # what a push that died before its commit leaves behind
    orphan = blob(1500)
    staged = await svc.backend.stage_chunks(a.account_id, [orphan])
    assert list(staged.keys.values()) == [True]
    assert len(_objects(s3_server, s3_store)) == 2

    young = await collect_garbage(svc.backend, grace=3600)
    assert (young.objects, young.young, young.deleted) == (2, 2, 0)
    report = await collect_garbage(svc.backend, grace=0)
    assert (report.objects, report.deleted) == (2, 1)
    assert list(_objects(s3_server, s3_store).values()) == [kept]
    got = await svc.fetch_chunks(a, [("t:1", 1, 0)])
    assert got == [("t:1", 1, 0, kept)]


async def test_a_preexisting_object_is_rechecked_under_the_lock(
    s3svc: SyncService, s3_server: WeedServer, s3_store: str
) -> None:
    """An object found present (412) may be an orphan a sweep removes before the commit:
    the commit checks it again and writes it back."""
    store = s3svc.backend.blobs
    key, data = "acct/" + hashlib.sha256(b"x").hexdigest(), b"x" * 10
    assert await store.put(key, data) is True
    assert await store.put(key, b"other bytes") is False  # never overwritten
    assert (await (await store.open(key)).read_all()) == data
    await store.delete([key])
    await ensure(store, Staged({key: False}), key, data)
    assert (await (await store.open(key)).read_all()) == data
    assert parse_qs(urlsplit(s3_store).query)["endpoint"] == [s3_server.endpoint]
