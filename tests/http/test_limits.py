"""Size limits while streaming, and a client that disconnects mid-push."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import psutil

from loreproto import wire
from tests.http.client import PASSWORD, Api, frame
from tests.serverproc import ServerProc, start_server

EMAIL = "dev@example.com"
MB = 1024 * 1024


class RssWatch:
    """Samples a process's RSS in a thread until stopped; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def stop(self) -> int:
        """Stop sampling -> growth of the peak over the start, in bytes."""
        self._stop.set()
        self._thread.join()
        return self.peak - self.base


async def _stream(total: int, sent_box: list[int]) -> AsyncIterator[bytes]:
    """A well-formed push body of 1 MiB sessions that goes on for ``total`` bytes.

    Every frame is valid and announces little, so only counting the bytes that
    actually arrive can stop it.
    """
    yield wire.PUSH_MAGIC
    block, sent, n = os.urandom(MB), 0, 0
    while sent < total:
        header, parts = frame(f"t:huge-{n}", [block])
        for buf in wire.encode_frame(header.to_json(), parts):
            yield buf
            sent += len(buf)
            sent_box[0] = sent
        n += 1
    yield wire.END_MARKER


async def test_oversized_push_is_refused_while_streaming(lore_server: ServerProc) -> None:
    lore_server.add_user(EMAIL, PASSWORD)
    api = Api.login(lore_server.url, EMAIL, "a")
    watch = RssWatch(lore_server.pid)
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {api.token}", "Content-Type": wire.PUSH_CONTENT_TYPE}
    sent = [0]
    async with aiohttp.ClientSession() as http:
        # a chunked body (no Content-Length): the server must count while reading
        async with http.post(lore_server.url + "/v1/push", data=_stream(100 * MB, sent),
                             headers=headers) as resp:
            status, doc = resp.status, await resp.json()
    growth = watch.stop()
    assert status == 413 and doc["error"]["code"] == wire.E_TOO_LARGE, doc
    assert growth < 48 * MB, f"server RSS grew by {growth / MB:.0f} MiB"
    # the body really went past the limit before the refusal (not refused on a header)
    assert sent[0] > wire.max_request_bytes(wire.DEFAULT_MAX_SESSION_BYTES), sent
    print(f"sent {sent[0] / MB:.0f} MiB, server RSS growth {growth / MB:.1f} MiB")
    assert time.monotonic() - started < 30
    # a declared Content-Length over the limit is refused before any byte is read
    async with aiohttp.ClientSession() as http:
        async with http.post(lore_server.url + "/v1/push", data=b"x" * (20 * MB),
                             headers=headers) as resp:
            assert resp.status == 413
    # the server is fine afterwards
    assert api.push([frame("t:small", [b"ok"])])[0]["status"] == "ok"


async def test_a_frame_announcing_too_much_is_refused_early(tmp_path: Path) -> None:
    srv = start_server(tmp_path, max_session_bytes=1 * MB)
    try:
        srv.add_user(EMAIL, PASSWORD)
        api = Api.login(srv.url, EMAIL, "a")
        head = wire.PUSH_MAGIC + b"".join(wire.encode_frame({
            "session_id": "t:x", "generation": 1, "first_index": 0, "chunk_count": 4,
            "sizes": [16, *([wire.MAX_SEALED_CHUNK_BYTES] * 4)]}, []))
        # only the header is sent; it announces 16 MiB against a 9 MiB request limit
        status, doc, _ = api.call("POST", "/v1/push", head, wire.PUSH_CONTENT_TYPE)
        assert status == 413 and doc["error"]["max_request_bytes"] == wire.max_request_bytes(MB)
        status, doc, _ = api.call("GET", "/v1/account")
        assert doc["limits"]["max_session_bytes"] == MB
    finally:
        srv.stop()


async def test_disconnect_mid_push_leaves_nothing(lore_server: ServerProc) -> None:
    lore_server.add_user(EMAIL, PASSWORD)
    a, b = Api.login(lore_server.url, EMAIL, "a"), Api.login(lore_server.url, EMAIL, "b")
    body = wire.encode_push([frame("t:first", [os.urandom(1000)]),
                             frame("t:second", [os.urandom(200_000)])])
    cut = len(body) - 100_000  # the first frame complete, the second half-sent
    parts = urlsplit(lore_server.url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        f"POST /v1/push HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {a.token}\r\nContent-Type: {wire.PUSH_CONTENT_TYPE}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:cut])
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    # the server logs the aborted request; wait for that (a condition, with a deadline)
    deadline = time.monotonic() + 10
    while '"/v1/push"' not in lore_server.logs() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert a.push([frame("t:after", [b"z"])])[0]["status"] == "ok"
    entries, _ = b.feed()
    assert [e["session_id"] for e in entries] == ["t:after"]
