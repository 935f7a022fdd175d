"""An HTTP fault proxy between lorectl/lored and lore-server (loopback only).

It speaks just enough HTTP/1.1 (Content-Length bodies, keep-alive) to forward requests
with aiohttp and write answers byte by byte itself, so it can misbehave precisely. Faults
are scripted per path, consumed in order (``plan("/v1/push", "drop-after", "502")``);
requests without a scripted fault pass through. Every request is logged with the fault
it met. Faults:

- ``drop``: close the connection without forwarding (the server never sees it);
- ``drop-after``: forward (the server commits), then close without answering;
- ``stall``: wait ``stall_seconds``, then forward and answer normally;
- ``truncate``: forward, answer with the full Content-Length but half the body, close;
- ``corrupt``: forward, flip bytes in the middle of the answer body;
- ``garbage``: forward, answer 200 with a body that is not what was asked for;
- ``500`` / ``502`` / ``503`` / ``429``: answer that status without forwarding;
- ``500-after``: forward (the server commits), then answer 500.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import defaultdict, deque

import aiohttp

STATUS_TEXT = {200: "OK", 429: "Too Many Requests", 500: "Internal Server Error",
               502: "Bad Gateway", 503: "Service Unavailable"}


class FaultProxy:
    """Start with ``FaultProxy(upstream_url)``; ``url`` is where clients connect."""

    def __init__(self, upstream: str, stall_seconds: float = 2.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.stall_seconds = stall_seconds
        self.rules: dict[str, deque[str]] = defaultdict(deque)
        self.log: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("fault proxy did not start")

    # --- control (test thread) -----------------------------------------------------
    def plan(self, path: str, *faults: str) -> None:
        """Queue ``faults`` for the next requests to ``path``."""
        with self._lock:
            self.rules[path].extend(faults)

    def clear(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self.rules.clear()

    def met(self, fault: str | None = None) -> list[tuple[str, str, str]]:
        """(method, path, fault) of requests seen (only those that met ``fault``)."""
        with self._lock:
            return [e for e in self.log if fault is None or e[2] == fault]

    def pending(self) -> int:
        """Faults still queued."""
        with self._lock:
            return sum(len(q) for q in self.rules.values())

    def close(self) -> None:
        """Stop serving and join the thread."""
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)

    # --- the proxy (its own thread and loop) -----------------------------------------
    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self._http = aiohttp.ClientSession(auto_decompress=False)
        server = await asyncio.start_server(self._conn, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            await self._http.close()

    def _next(self, method: str, path: str) -> str:
        with self._lock:
            q = self.rules.get(path)
            fault = q.popleft() if q else "pass"
            self.log.append((method, path, fault))
            return fault

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                size = int(next((v for k, v in headers.items()
                                 if k.lower() == "content-length"), "0"))
                body = await reader.readexactly(size) if size else b""
                keep = await self._one(method, target, headers, body, writer)
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def _forward(self, method: str, target: str, headers: dict[str, str],
                       body: bytes) -> tuple[int, dict[str, str], bytes]:
        fwd = {k: v for k, v in headers.items()
               if k.lower() not in ("host", "content-length", "connection")}
        async with self._http.request(method, self.upstream + target, headers=fwd,
                                      data=body) as resp:
            data = await resp.read()
            kept = {k: v for k, v in resp.headers.items()
                    if k.lower() in ("content-type", "content-encoding")}
            return resp.status, kept, data

    async def _one(self, method: str, target: str, headers: dict[str, str], body: bytes,
                   writer: asyncio.StreamWriter) -> bool:
        fault = self._next(method, target.split("?", 1)[0])
        if fault == "drop":
            return False
        if fault in ("500", "502", "503", "429"):
            doc = {"error": {"code": "rate_limited" if fault == "429" else "internal",
                             "message": f"injected {fault}"}}
            await _answer(writer, int(fault), {"Content-Type": "application/json"},
                          json.dumps(doc).encode())
            return False
        if fault == "stall":
            await asyncio.sleep(self.stall_seconds)  # the fault itself: a slow network
        status, rh, data = await self._forward(method, target, headers, body)
        if fault == "drop-after":
            return False
        if fault == "500-after":
            await _answer(writer, 500, {"Content-Type": "application/json"},
                          b'{"error":{"code":"internal","message":"injected 500"}}')
            return False
        if fault == "truncate":
            await _answer(writer, status, rh, data[: len(data) // 2], length=len(data))
            return False
        if fault == "corrupt" and data:
            mid = len(data) // 2
            data = data[:mid] + bytes(b ^ 0x5A for b in data[mid: mid + 8]) + data[mid + 8:]
        if fault == "garbage":
            data = b"<html>502 upstream hiccup</html>"
            rh = {"Content-Type": "text/html"}
        await _answer(writer, status, rh, data)
        return fault in ("pass", "stall")


async def _answer(writer: asyncio.StreamWriter, status: int, headers: dict[str, str],
                  body: bytes, length: int | None = None) -> None:
    head = [f"HTTP/1.1 {status} {STATUS_TEXT.get(status, 'Status')}",
            f"Content-Length: {len(body) if length is None else length}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()


