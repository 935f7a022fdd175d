"""Concurrent writers and a reader on the change feed: nothing missed, nothing twice.

The reader checks the feed's promise directly: after each full drain that started at
time T, every write acknowledged before T is reflected (the session is at that seq or
later). Run on one SQLite server, and on two lore-server processes sharing PostgreSQL
(writers spread over both, the reader on the second).
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from loreproto import wire
from tests.http.client import PASSWORD, Api, frame
from tests.serverproc import ServerProc, start_server

EMAIL = "dev@example.com"
WRITERS = 4
OPS = 12


@dataclass
class Acks:
    """Writes acknowledged to writers: (monotonic time of the ack, session_id, seq)."""

    items: list[tuple[float, str, int]] = field(default_factory=list)


async def _post_push(http: aiohttp.ClientSession, url: str, token: str,
                     frames: list[tuple[wire.PushHeader, list[bytes]]]) -> list[dict[str, Any]]:
    async with http.post(url + "/v1/push", data=wire.encode_push(frames), headers={
        "Authorization": f"Bearer {token}", "Content-Type": wire.PUSH_CONTENT_TYPE,
    }) as resp:
        doc = await resp.json()
        assert resp.status == 200, doc
        results: list[dict[str, Any]] = doc["results"]
        return results


async def writer(http: aiohttp.ClientSession, api: Api, n: int, acks: Acks) -> None:
    """New sessions and appends to them, as fast as the server takes them."""
    counts: dict[str, int] = {}
    for op in range(OPS):
        sid = f"w{n}:s{op // 3}"  # every session: created, then appended twice
        first = counts.get(sid, 0)
        (result,) = await _post_push(http, api.url, api.token,
                                     [frame(sid, [os.urandom(200)], first_index=first)])
        assert result["status"] == "ok", result
        counts[sid] = result["chunk_count"]
        acks.items.append((time.monotonic(), sid, result["seq"]))


async def reader(http: aiohttp.ClientSession, api: Api, acks: Acks, done: asyncio.Event
                 ) -> dict[str, int]:
    """Loop on the feed until the writers are done; verify every drain."""
    state: dict[str, int] = {}
    seen: list[int] = []
    cursor = 0
    drains = 0
    while True:
        finished = done.is_set()
        started = time.monotonic()
        acked_before = [a for a in acks.items if a[0] < started]
        while True:
            async with http.get(f"{api.url}/v1/changes?since={cursor}&limit=7", headers={
                    "Authorization": f"Bearer {api.token}"}) as resp:
                page = await resp.json()
                assert resp.status == 200, page
            for entry in page["changes"]:
                assert entry["seq"] > cursor and (not seen or entry["seq"] > seen[-1])
                seen.append(entry["seq"])
                state[entry["session_id"]] = entry["seq"]
            assert page["cursor"] >= cursor
            cursor = page["cursor"]
            if not page["more"]:
                break
        drains += 1
        for _, sid, seq in acked_before:
            assert state.get(sid, 0) >= seq, f"missed {sid} at seq {seq} (cursor {cursor})"
        if finished:
            assert drains > 2  # the reader really ran alongside the writers
            return state
        await asyncio.sleep(0)  # yield to the writers; the loop is bounded by `done`


async def run_story(write_servers: list[ServerProc], read_server: ServerProc) -> None:
    """WRITERS machines push concurrently while one machine reads the feed."""
    read_server.add_user(EMAIL, PASSWORD)
    apis = [Api.login(write_servers[n % len(write_servers)].url, EMAIL, f"w{n}")
            for n in range(WRITERS)]
    reader_api = Api.login(read_server.url, EMAIL, "reader")
    acks, done = Acks(), asyncio.Event()
    async with aiohttp.ClientSession() as http:
        read_task = asyncio.create_task(reader(http, reader_api, acks, done))
        await asyncio.gather(*(writer(http, api, n, acks) for n, api in enumerate(apis)))
        done.set()
        state = await asyncio.wait_for(read_task, 60)
    final: dict[str, int] = {}
    for _, sid, seq in acks.items:
        final[sid] = max(final.get(sid, 0), seq)
    assert state == final
    seqs = sorted(seq for _, _, seq in acks.items)
    assert seqs == list(range(1, WRITERS * OPS + 1))  # one seq per committed write, no gaps


async def test_concurrent_writers_and_a_reader_sqlite(lore_server: ServerProc) -> None:
    await run_story([lore_server], lore_server)


@pytest.mark.postgres
async def test_two_processes_on_one_postgres(tmp_path: Path, pg_database: str) -> None:
    one = start_server(tmp_path / "one", database_url=pg_database)
    two = start_server(tmp_path / "two", database_url=pg_database)
    try:
        await run_story([one, two], two)
        # and plainly: pushed through one, pulled through the other
        a = Api.login(one.url, EMAIL, "plain-a")
        b = Api.login(two.url, EMAIL, "plain-b")
        _, cursor = b.feed()
        assert a.push([frame("plain:1", [b"x"])])[0]["status"] == "ok"
        entries, _ = b.feed(cursor)
        assert [e["session_id"] for e in entries] == ["plain:1"]
    finally:
        one.stop()
        two.stop()
