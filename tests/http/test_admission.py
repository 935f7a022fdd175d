"""In-flight body bounds against a real lore-server (issue 16).

Budgets here: --max-session-bytes 1 MiB (push bodies <= 9 MiB, so one account may
hold 18 MiB in flight) and --max-inflight-bytes 24 MiB for the process. Held bodies
are real sockets that sent part of a valid push and then stall.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from loreproto import wire
from tests.http.client import PASSWORD, Api, call, frame
from tests.http.test_limits import RssWatch
from tests.serverproc import ServerProc, start_server

MB = 1024 * 1024


def _frames(total: int) -> bytes:
    """Valid push frames of 1 MiB sessions, about ``total`` bytes, no end marker."""
    out = [wire.PUSH_MAGIC]
    block = os.urandom(MB - 1024)
    for n in range(max(1, total // MB)):
        header, parts = frame(f"t:held-{n}", [block])
        out.extend(wire.encode_frame(header.to_json(), parts))
    return b"".join(out)


async def _hold(url: str, token: str, body: bytes, declared: int
                ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Send ``body`` of a push declaring ``declared`` bytes, then stall (keep it open)."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        f"POST /v1/push HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: {wire.PUSH_CONTENT_TYPE}\r\n"
        f"Content-Length: {declared}\r\n\r\n".encode() + body)
    await writer.drain()
    return reader, writer


async def _status(reader: asyncio.StreamReader, timeout: float) -> int:
    line = await asyncio.wait_for(reader.readline(), timeout)
    return int(line.split()[1])


async def _probe(api: Api, want: int, deadline: float) -> dict[str, str]:
    """Push a small truncated body until the answer is ``want`` (400 while admitted)."""
    body = _frames(3 * MB)  # no end marker: admitted means a harmless 400
    headers = {"Authorization": f"Bearer {api.token}", "Content-Type": wire.PUSH_CONTENT_TYPE}
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.post(api.url + "/v1/push", data=body, headers=headers) as resp:
                if resp.status == want:
                    return dict(resp.headers) | {"code": (await resp.json())["error"]["code"]}
                assert resp.status == 400, resp.status
            assert time.monotonic() < deadline, f"never got {want}"
            await asyncio.sleep(0.05)


async def test_in_flight_bodies_are_bounded_per_account_and_process(tmp_path: Path) -> None:
    srv = start_server(tmp_path, max_session_bytes=MB,
                       extra_args=["--max-inflight-bytes", str(24 * MB), "--body-timeout", "4"])
    try:
        for who in ("a@example.com", "b@example.com", "c@example.com"):
            srv.add_user(who, PASSWORD)
        a1, a2 = (Api.login(srv.url, "a@example.com", m) for m in ("a1", "a2"))
        b = Api.login(srv.url, "b@example.com", "b")
        c = Api.login(srv.url, "c@example.com", "c")
        watch = RssWatch(srv.pid)
        declared = 9 * MB
        held = [await _hold(srv.url, a1.token, _frames(8 * MB), declared),
                await _hold(srv.url, a2.token, _frames(8 * MB), declared)]
        # account a holds 16 MiB of its 18: a third body of a is refused with 429
        doc = await _probe(a1, 429, time.monotonic() + 10)
        assert doc["code"] == wire.E_RATE_LIMITED and int(doc["Retry-After"]) > 0
        # b may still send (its own budget), until the process budget is full
        held.append(await _hold(srv.url, b.token, _frames(7 * MB), declared))
        doc = await _probe(c, 503, time.monotonic() + 10)
        assert doc["code"] == wire.E_UNAVAILABLE and int(doc["Retry-After"]) > 0
        # (measured before the logins below: one Argon2 verification alone takes 64 MiB)
        growth = watch.stop()
        assert growth < 2 * 24 * MB + 16 * MB, f"RSS grew {growth / MB:.0f} MiB"
        print(f"RSS growth while 23 MiB were held: {growth / MB:.1f} MiB")
        # unauthenticated bodies are capped small; logins still work meanwhile
        status, err, _ = call(srv.url, "POST", "/v1/login", b"{" + b" " * (64 * 1024) + b"}")
        assert status == 413, err
        assert Api.login(srv.url, "c@example.com", "c2").token
        # the stalled bodies time out (slowloris) and give their bytes back
        for reader, _ in held:
            assert await _status(reader, 20) == 408
        for _, writer in held:
            writer.close()
        # honest clients get through once the flood is gone
        assert c.push([frame("t:honest", [b"ok"])])[0]["status"] == "ok"
        assert a1.push([frame("t:honest-a", [b"ok"])])[0]["status"] == "ok"
        assert [e["session_id"] for e in b.feed()[0]] == []  # nothing held was committed
    finally:
        srv.stop()


async def test_a_slow_login_body_times_out(lore_server: ServerProc) -> None:
    parts = urlsplit(lore_server.url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(f"POST /v1/login HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                 "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{".encode())
    await writer.drain()
    # the default stall limit is 30 s; the answer must come, as a 408, not never
    assert await _status(reader, 45) == 408
    writer.close()
