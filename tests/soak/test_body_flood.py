"""Body flood soak: slow and large uploads from many connections, honest clients beside.

A real lore-server with `--max-inflight-bytes 32 MiB`, `--max-session-bytes 1 MiB` and
`--body-timeout 2`. Attackers (4 accounts, 6 connections each, plus slowloris logins)
trickle valid push frames, announce large bodies, stall, and reconnect as soon as they
are refused. Honest machines (3 accounts) meanwhile push small sessions — waiting out
`Retry-After` like lored does — and page the change feed. Asserted: the server's RSS
stays bounded by the budget, every honest push is committed, the feed is served, no
5xx. The short variant runs in `make test`; `make soak` (LORE_SOAK=1) the long one.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from loreproto import wire
from tests.faults.common import record, variants
from tests.http.client import PASSWORD, Api, frame
from tests.http.test_limits import RssWatch
from tests.serverproc import start_server

MIB = 1024 * 1024
BUDGET = 32 * MIB


async def _attacker(url: str, token: str | None, stop: float, rng: random.Random,
                    seen: Counter[str]) -> None:
    """One connection after another: a big declared body, trickled or stalled."""
    parts = urlsplit(url)
    block = os.urandom(MIB - 4096)
    header, chunks = frame(f"t:flood-{rng.randrange(1 << 30)}", [block])
    body = wire.PUSH_MAGIC + b"".join(wire.encode_frame(header.to_json(), chunks)) * 8
    while time.monotonic() < stop:
        try:
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        except OSError:
            seen["connect_failed"] += 1
            await asyncio.sleep(0.05)
            continue
        if token is None:  # slowloris on the unauthenticated sign-in
            head = (f"POST /v1/login HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                    "Content-Type: application/json\r\nContent-Length: 15000\r\n\r\n{")
            payload = b'"email": "' + b"x" * 14_000
        else:
            head = (f"POST /v1/push HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                    f"Authorization: Bearer {token}\r\n"
                    f"Content-Type: {wire.PUSH_CONTENT_TYPE}\r\n"
                    f"Content-Length: {len(body) + 64}\r\n\r\n")  # never completes
            payload = body
        try:
            writer.write(head.encode())
            step = rng.choice((16 * 1024, 256 * 1024, 2 * MIB))
            for pos in range(0, len(payload), step):
                if time.monotonic() > stop:
                    break
                writer.write(payload[pos:pos + step])
                await writer.drain()
                await asyncio.sleep(rng.choice((0.0, 0.05, 0.3)))
                if reader.at_eof() or reader._buffer:  # noqa: SLF001 - refused already
                    break
            line = await asyncio.wait_for(reader.readline(), max(0.1, stop - time.monotonic()))
            status = line.split()[1].decode() if len(line.split()) > 1 else "closed"
            seen[status] += 1
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            seen["cut"] += 1
        finally:
            writer.close()


async def _honest(api: Api, name: str, stop: float, served: Counter[str],
                  latencies: list[float], pushed: list[str]) -> None:
    """Small pushes (waiting out Retry-After) and feed reads, like a machine's lored."""
    headers = {"Authorization": f"Bearer {api.token}"}
    n = 0
    async with aiohttp.ClientSession(headers=headers) as http:
        while time.monotonic() < stop:
            sid = f"t:{name}-{n}"
            body = wire.encode_push([frame(sid, [os.urandom(2048)])])
            started = time.monotonic()
            while True:
                async with http.post(api.url + "/v1/push", data=body,
                                     headers={"Content-Type": wire.PUSH_CONTENT_TYPE}) as r:
                    served[str(r.status)] += 1
                    assert r.status < 500 or r.status == 503, r.status
                    if r.status == 200:
                        doc = await r.json()
                        assert doc["results"][0]["status"] == "ok", doc
                        pushed.append(sid)
                        break
                    assert r.status in (429, 503), (r.status, await r.text())
                    wait = float(r.headers.get("Retry-After", "1"))
                await asyncio.sleep(min(wait, 2.0) * random.uniform(0.5, 1.0))
            latencies.append(time.monotonic() - started)
            async with http.get(api.url + "/v1/changes?since=0&limit=50") as r:
                served[f"feed {r.status}"] += 1
                assert r.status == 200
            n += 1


@variants(short=8, long=120)
async def test_a_flood_of_slow_large_bodies_leaves_memory_bounded_and_honest_clients_served(
        tmp_path: Path, size: int) -> None:
    srv = start_server(tmp_path, max_session_bytes=MIB, extra_args=[
        "--max-inflight-bytes", str(BUDGET), "--body-timeout", "2"])
    try:
        attackers = [f"flood{i}@example.com" for i in range(4)]
        honest = [f"honest{i}@example.com" for i in range(3)]
        for who in attackers + honest:
            srv.add_user(who, PASSWORD)
        flood_tokens = [Api.login(srv.url, who, "flood").token for who in attackers]
        machines = [Api.login(srv.url, who, f"m{i}") for i, who in enumerate(honest)]
        readers = [Api.login(srv.url, who, f"r{i}") for i, who in enumerate(honest)]
        watch = RssWatch(srv.pid)
        stop = time.monotonic() + size
        rng = random.Random(9)
        seen: Counter[str] = Counter()
        served: Counter[str] = Counter()
        latencies: list[float] = []
        pushed: dict[str, list[str]] = {who: [] for who in honest}
        tasks = [_attacker(srv.url, tok, stop, random.Random(rng.random()), seen)
                 for tok in flood_tokens for _ in range(6)]
        tasks += [_attacker(srv.url, None, stop, random.Random(rng.random()), seen)
                  for _ in range(4)]
        tasks += [_honest(m, f"h{i}", stop, served, latencies, pushed[who])
                  for i, (m, who) in enumerate(zip(machines, honest, strict=True))]
        await asyncio.wait_for(asyncio.gather(*tasks), size + 60)
        growth = watch.stop()
        # every honest push the server acknowledged is in the other machine's feed once
        for reader, who in zip(readers, honest, strict=True):
            feed = [e["session_id"] for e in reader.feed()[0]]
            assert sorted(feed) == sorted(pushed[who]) and pushed[who], who
        # a 500 actually sent has a body; flood clients that hung up mid-body are logged
        # by aiohttp as 500 with nothing sent ("client disconnected")
        assert not [line for line in srv.logs().splitlines()
                    if '"status": 500' in line and '"bytes_out": 0' not in line]
        assert "unhandled error" not in srv.logs()
        assert growth < 2 * BUDGET + 32 * MIB, f"RSS grew {growth / MIB:.1f} MiB"
        latencies.sort()
        figures = {
            "suite": "soak/body-flood", "seconds": size, "budget_mib": BUDGET // MIB,
            "rss_growth_mib": round(growth / MIB, 1),
            "flood_connections": sum(seen.values()), "flood_answers": dict(seen),
            "honest_pushes": sum(len(v) for v in pushed.values()),
            "honest_requests": sum(served.values()), "honest_answers": dict(served),
            "honest_push_p50_s": round(latencies[len(latencies) // 2], 2),
            "honest_push_max_s": round(latencies[-1], 2),
        }
        record(figures)
        assert figures["honest_pushes"] >= 3
    finally:
        srv.stop()
