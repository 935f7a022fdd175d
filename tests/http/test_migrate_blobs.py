"""``lore-server migrate-blobs --to s3://…`` moves a live deployment's chunks from
PostgreSQL into a real S3 server (SeaweedFS) while a lore-server keeps serving it:
resumable after kill -9, idempotent, and every chunk reads back byte for byte."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import asyncpg

from loreproto import wire
from tests.http.client import PASSWORD, Api, frame
from tests.s3server import WeedServer
from tests.serverproc import REPO, start_server


def _fetch(api: Api, refs: list[tuple[str, int, int]]) -> dict[tuple[str, int, int], Any]:
    body = {"chunks": [{"session_id": s, "generation": g, "index": i} for s, g, i in refs]}
    status, raw, _ = api.call("POST", "/v1/chunks", body)
    assert status == 200, raw
    reader = wire.FrameReader(wire.CHUNK_MAGIC, "chunks")
    reader.feed(raw)
    got = {(h["session_id"], h["generation"], h["index"]): (parts[0] if parts else None)
           for h, parts in reader.frames()}
    assert reader.finished
    return got


def _migrate(dsn: str, store: str, *extra: str, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "lorecloud.cli", "--database-url", dsn, "migrate-blobs",
           "--to", store, *extra]
    full = {k: v for k, v in os.environ.items() if not k.startswith("LORE_")}
    full["PYTHONPATH"] = str(REPO)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          env=full | (env or {}))


async def _inline(dsn: str) -> tuple[int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow("SELECT COUNT(*) FILTER (WHERE blob_key IS NULL), "
                                  "COUNT(DISTINCT blob_key) FROM chunks")
    finally:
        await conn.close()
    return int(row[0]), int(row[1])


async def test_migrate_blobs_while_serving(tmp_path: Path, pg_database: str, s3_store: str,
                                           s3_server: WeedServer) -> None:
    old = start_server(tmp_path / "db", database_url=pg_database)
    old.add_user("m@example.com", PASSWORD)
    api = Api.login(old.url, "m@example.com", "m1")
    stored: dict[tuple[str, int, int], bytes] = {}
    for n in range(20):
        chunks = [os.urandom(3000 + 997 * k) for k in range(3)]
        assert api.push([frame(f"t:{n}", chunks)])[0]["status"] == "ok"
        stored |= {(f"t:{n}", 1, k): c for k, c in enumerate(chunks)}
    old.stop()
    assert await _inline(pg_database) == (60, 0)

    # the deployment now serves with the bucket: new chunks go there, old ones still read
    srv = start_server(tmp_path / "s3", database_url=pg_database,
                       extra_args=["--blob-store", s3_store])
    try:
        api = Api.login(srv.url, "m@example.com", "m1")
        stop = threading.Event()
        errors: list[BaseException] = []

        def traffic() -> None:  # a client keeps pushing and reading during the migration
            n = 0
            try:
                while not stop.is_set():
                    c = os.urandom(2500)
                    assert api.push([frame(f"live:{n}", [c])])[0]["status"] == "ok"
                    stored[(f"live:{n}", 1, 0)] = c
                    assert _fetch(api, [(f"t:{n % 20}", 1, 2)])[(f"t:{n % 20}", 1, 2)] == \
                        stored[(f"t:{n % 20}", 1, 2)]
                    n += 1
            except BaseException as exc:  # reported by the test thread
                errors.append(exc)

        worker = threading.Thread(target=traffic)
        worker.start()
        try:
            # killed after its first batch of 8: 52 chunks are left in the database
            crashed = _migrate(pg_database, s3_store, "--batch-size", "8",
                               env={"LORE_FAULT": "migrate-blobs-after-batch"})
            assert crashed.returncode == 137, crashed.stderr
            assert (await _inline(pg_database))[0] == 52
            done = _migrate(pg_database, s3_store, "--batch-size", "8")
            assert done.returncode == 0, done.stderr
            assert "moved 52 chunks" in done.stdout, done.stdout
        finally:
            stop.set()
            worker.join(60)
        assert not errors, errors
        again = _migrate(pg_database, s3_store)
        assert "moved 0 chunks" in again.stdout  # idempotent
        inline, keys = await _inline(pg_database)
        assert inline == 0 and keys == len(stored)
        bucket = s3_store.split("?")[0].removeprefix("s3://")
        listing = s3_server.client().list_objects_v2(Bucket=bucket, MaxKeys=1000)
        assert listing["KeyCount"] == len(stored)
        refs = list(stored)
        for i in range(0, len(refs), 200):
            got = _fetch(api, refs[i : i + 200])
            assert all(got[r] == stored[r] for r in refs[i : i + 200])
        # a bad target is refused with a hint, no traceback
        bad = _migrate(pg_database, "db")
        assert bad.returncode == 1 and "hint: " in bad.stderr and "Traceback" not in bad.stderr
    finally:
        srv.stop()
