"""P7 server load: 50 concurrent clients each pushing 100 small sessions.

This measures the server, so the clients are cheap: one asyncio process using Lore's own
HTTP client (``lored.sync.http.HttpRemote``, retries off so errors show) with every session
sealed before the clock starts. Each client has its own ``pro`` account (``lore-server
user add``, as self-registered accounts get the 50-session free plan) and logs in before
the clock starts; then it pushes its sessions in batches of 10
(a daemon catching up over several cycles), so 50 clients make 500 timed requests.
Backends: SQLite; PostgreSQL with one server process, and with two processes sharing
the database (clients split between them: client-side balancing, no proxy in the way).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
import uuid
from typing import Any

from bench.context import Ctx
from bench.lore import LoreServer
from bench.procs import Unavailable
from bench.report import Row, na

BATCH = 10


def _account(i: int) -> tuple[str, str]:
    return f"load{i}@example.com", "load-password-1"


def _sessions(n: int, rng: random.Random) -> list[tuple[Any, list[bytes]]]:
    """``n`` sealed small sessions (2–8 KB of JSONL each) ready for ``Remote.push``."""
    from lored.crypto.seal import Binding, seal, seal_chunk
    from lored.crypto.secret import SecretBytes
    from loreproto.wire import PushHeader

    key = SecretBytes(os.urandom(32))
    out = []
    for _ in range(n):
        sid = f"claude-code:{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        payload = b"".join(
            b'{"type":"user","message":{"role":"user","content":"%s"}}\n'
            % os.urandom(rng.randint(40, 160)).hex().encode() for _ in range(rng.randint(8, 25)))
        b = Binding("acct", sid, "machine", 1)
        chunk = seal_chunk(key, payload, b, 0)
        info = seal(key, b'{"title":"bench"}', b.info_ad(1))
        meta = {"tool": "claude-code", "project_path": "/home/dev/projects/load",
                "started_at": "2025-06-01T10:00:00Z", "ended_at": "2025-06-01T10:30:00Z",
                "message_count": 12, "payload_bytes": len(payload)}
        header = PushHeader(sid, 1, 0, 1, [len(info), len(chunk)], meta)  # type: ignore[arg-type]
        out.append((header, [info, chunk]))
    return out


async def _client(i: int, url: str, sessions: list[Any], lat: list[float],
                  errors: list[str], ready: list[int], start: asyncio.Event) -> None:
    from lored.sync.http import HttpRemote

    remote = HttpRemote(url, attempts=1)
    try:
        email, pw = _account(i)
        await remote.login(email, pw, str(uuid.uuid4()), f"load-{i}")
        ready.append(i)
        await start.wait()
        for k in range(0, len(sessions), BATCH):
            t0 = time.perf_counter()
            try:
                results = await remote.push(sessions[k:k + BATCH])
            except Exception as e:  # noqa: BLE001 - every failure is a counted error
                errors.append(f"{type(e).__name__}: {e}")
                continue
            lat.append(time.perf_counter() - t0)
            errors += [str(r.get("status") or r) for r in results
                       if (r.get("status") or r.get("result")) != "ok"]
    finally:
        await remote.close()


def cpu_seconds(pids: list[int], children: bool = True) -> float:
    """User + system CPU seconds of ``pids`` (and their live children) from psutil."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            p = psutil.Process(pid)
            procs = [p, *(p.children(recursive=True) if children else [])]
        except psutil.Error:
            continue
        for q in procs:
            try:
                t = q.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
    return total


async def _load(urls: list[str], clients: int, per_client: int,
                groups: dict[str, list[int]]) -> dict[str, Any]:
    rng = random.Random(7)
    work = [_sessions(per_client, rng) for _ in range(clients)]
    lat: list[float] = []
    errors: list[str] = []
    start = asyncio.Event()
    ready: list[int] = []
    tasks = [asyncio.create_task(
        _client(i, urls[i % len(urls)], work[i], lat, errors, ready, start))
        for i in range(clients)]
    # registration and login are set-up, not load: wait until every client is parked
    deadline = time.monotonic() + 300
    while len(ready) + sum(1 for t in tasks if t.done()) < clients:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    # who burns the 2 cores during the timed phase: load generator, servers, database
    def used(k: str) -> float:  # the harness's own children are the servers: not "client"
        return cpu_seconds(groups[k], children=k != "client")

    cpu0 = {k: used(k) for k in groups}
    t0 = time.perf_counter()
    start.set()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    wall = time.perf_counter() - t0
    cpu = {k: round((used(k) - cpu0[k]) / wall, 2) for k in groups}
    setup_errors = [f"{type(d).__name__}: {d}" for d in done if isinstance(d, BaseException)]
    lat.sort()
    return {
        "sessions_per_s": clients * per_client / wall if not setup_errors else None,
        "wall": wall, "requests": len(lat), "errors": len(errors) + len(setup_errors),
        "error_samples": (setup_errors + errors)[:5],
        "p50": statistics.median(lat) if lat else None,
        "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None,
        "cores_busy": cpu,
    }


def _backend(ctx: Ctx, name: str, db_url: str | None, processes: int,
             db_pids: list[int] | None = None, s3: Any = None) -> dict[str, Any]:
    from concurrent.futures import ThreadPoolExecutor

    extra = ("--blob-store", s3.url()) if s3 is not None else ()
    srv = LoreServer(ctx.work / f"server-{name}", database_url=db_url, processes=processes,
                     proxy=False, extra_args=extra)
    if s3 is not None:
        srv.env.update(s3.env)
    try:
        srv.start()
        # accounts are set-up, not load. Concurrent `user add` on one SQLite data dir race
        # on lore-server's write probe (`.lore-server-write-test`), so only PostgreSQL
        # gets a few at a time.
        with ThreadPoolExecutor(4 if db_url else 1) as pool:
            list(pool.map(lambda i: srv.add_user(*_account(i)), range(ctx.sizes.clients)))
        groups = {"client": [os.getpid()], "servers": [p.pid for p in srv.procs],
                  "database": db_pids or []}
        if s3 is not None:
            groups["s3"] = s3.pids()
        return asyncio.run(_load(srv.direct_urls, ctx.sizes.clients, ctx.sizes.client_sessions,
                                 groups))
    finally:
        srv.stop()


def _row(what: str, r: dict[str, Any], **kw: Any) -> Row:
    if r.get("sessions_per_s") is None:
        return na("P7", what, "; ".join(r.get("error_samples") or ["no result"]), "no errors")
    ok = kw.pop("ok", None)
    if r.get("p99") is not None:
        what += f" (p99 {r['p99'] * 1000:.0f} ms)"
    if r.get("errors"):
        what += f" ({r['errors']} errors)"
    return Row("P7", what, r["sessions_per_s"], unit="sessions/s",
               ok=(r["errors"] == 0 and (ok if ok is not None else True)), detail=r, **kw)


def p7(ctx: Ctx) -> list[Row]:
    """Throughput and p99 on SQLite, PostgreSQL ×1, PostgreSQL ×1 with the chunks in S3
    (SeaweedFS on loopback, ``bench/s3.py``) and PostgreSQL ×2 processes."""
    n, k = ctx.sizes.clients, ctx.sizes.client_sessions
    label = f"{n}×{k} pushes"
    rows: list[Row] = []
    try:
        sqlite = _backend(ctx, "p7-sqlite", None, 1)
        rows.append(_row(f"{label}, SQLite", sqlite, bar="no errors"))
    except Unavailable as e:
        rows.append(na("P7", f"{label}, SQLite", str(e), "no errors"))
    from bench.pg import PgServer

    pg = PgServer()
    try:
        pg.start()
        one = _backend(ctx, "p7-pg1", pg.database("lore_p7_one"), 1, pg.pids())
        rows.append(_row(f"{label}, PostgreSQL ×1", one, bar="no errors"))
        rows.append(_p7_s3(ctx, pg, label, one.get("sessions_per_s")))
        # a fresh database in the same cluster: the same starting point for ×2
        two = _backend(ctx, "p7-pg2", pg.database("lore_p7_two"), 2, pg.pids())
        a, b = one.get("sessions_per_s"), two.get("sessions_per_s")
        row = _row(f"{label}, PostgreSQL ×2 vs ×1", two, bar="≥ 1.6×",
                   ok=bool(a and b and b >= 1.6 * a))
        row.anchor, row.anchor_name = a, "PostgreSQL ×1"
        rows.append(row)
    except Unavailable as e:
        rows.append(na("P7", f"{label}, PostgreSQL", str(e), "≥ 1.6×"))
    finally:
        pg.stop()
    return rows


def _p7_s3(ctx: Ctx, pg: Any, label: str, anchor: float | None) -> Row:
    """PostgreSQL ×1 with ``--blob-store s3://…``: the object store's cost per push."""
    from bench.s3 import S3Server

    what = f"{label}, PostgreSQL ×1 + S3 vs db"
    try:
        s3 = S3Server()
    except Unavailable as e:
        return na("P7", what, str(e), "no errors")
    try:
        s3.start()
        r = _backend(ctx, "p7-pg1-s3", pg.database("lore_p7_s3"), 1, pg.pids(), s3=s3)
    except Unavailable as e:
        return na("P7", what, str(e), "no errors")
    finally:
        s3.stop()
    row = _row(what, r, bar="no errors")
    row.anchor, row.anchor_name = anchor, "PostgreSQL ×1, chunks in the db"
    return row
