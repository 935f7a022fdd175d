"""Two real lore-server processes on one PostgreSQL enforce ONE failed-login limit and
ONE per-account in-flight budget (issue 21): what either process admits counts for both.

Budgets as in test_admission.py: --max-session-bytes 1 MiB, so one account may hold
18 MiB of request bodies in flight across the deployment.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg

from loreproto import wire
from tests.http.client import PASSWORD, Api, call
from tests.http.test_admission import MB, _frames, _hold, _probe, _status
from tests.serverproc import start_server


async def _leases(dsn: str) -> list[bool]:
    """Per live lease of the inflight table: does it hold (nearly) a whole 8 MiB body?"""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT bytes FROM inflight ORDER BY bytes")
    finally:
        await conn.close()
    return [r[0] >= 8 * MB - 64 * 1024 for r in rows]


async def test_two_processes_share_login_and_inflight_limits(
    tmp_path: Path, pg_database: str
) -> None:
    args = ["--max-inflight-bytes", str(64 * MB), "--body-timeout", "8"]
    one = start_server(tmp_path / "one", database_url=pg_database, max_session_bytes=MB,
                       extra_args=args)
    two = start_server(tmp_path / "two", database_url=pg_database, max_session_bytes=MB,
                       extra_args=args)
    try:
        one.add_user("a@example.com", PASSWORD)
        one.add_user("b@example.com", PASSWORD)
        # five wrong passwords, spread over both processes, exhaust the limit of five
        for n in range(5):
            srv = (one, two)[n % 2]
            status, err, _ = call(srv.url, "POST", "/v1/login", {
                "email": "a@example.com", "password": "wrong-password", "machine_id": "m"})
            assert status == 401, err
        for srv in (one, two):
            status, err, headers = call(srv.url, "POST", "/v1/login", {
                "email": "a@example.com", "password": PASSWORD, "machine_id": "m"})
            assert status == 429 and err["error"]["code"] == wire.E_RATE_LIMITED, err
            assert 1 <= int(headers["Retry-After"]) <= 60
        # another account is not locked out
        b1 = Api.login(one.url, "b@example.com", "b1")
        b2 = Api.login(two.url, "b@example.com", "b2")

        # b holds 8 MiB on each process: 16 of its 18 MiB, so a third body is refused
        # by either process, although each alone holds only 8
        held = [await _hold(one.url, b1.token, _frames(8 * MB), 9 * MB),
                await _hold(two.url, b2.token, _frames(8 * MB), 9 * MB)]
        # both bodies arrived: the shared table holds one lease per process
        deadline = time.monotonic() + 15
        while (leases := await _leases(pg_database)) != [True, True]:
            assert time.monotonic() < deadline, leases
            await asyncio.sleep(0.05)
        for api in (b1, b2):
            doc = await _probe(api, 429, time.monotonic() + 15)
            assert doc["code"] == wire.E_RATE_LIMITED and int(doc["Retry-After"]) > 0
        # the stalled bodies time out and give their bytes back, to both processes
        for reader, _ in held:
            assert await _status(reader, 20) == 408
        for _, writer in held:
            writer.close()
        for api in (b1, b2):
            await _probe(api, 400, time.monotonic() + 15)  # admitted again (truncated body)
    finally:
        one.stop()
        two.stop()
