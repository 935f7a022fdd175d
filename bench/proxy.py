"""A counting reverse proxy: how many HTTP requests and bytes reach a server.

    python -m bench.proxy --port 9001 --target http://127.0.0.1:9000

It forwards every request (any method, streamed both ways) and counts requests, request
body bytes and response body bytes per method. ``GET /__bench__/stats`` returns the
counters as JSON; ``POST /__bench__/reset`` zeroes them. Both Lore and rclone go through
the same proxy in the harness, so its overhead is on both sides of each ratio, and the
counts are the server's view (what arrived), not the client's claims.

It runs as its own process so its CPU does not share a GIL with the harness.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailers", "transfer-encoding", "upgrade", "host", "content-length",
}
_STATS = "/__bench__/"


class Counts:
    """Request and byte counters (reset between measured phases)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        self.requests = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.methods: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()

    def as_dict(self) -> dict[str, Any]:
        """Counters as plain JSON."""
        return {
            "requests": self.requests, "bytes_in": self.bytes_in, "bytes_out": self.bytes_out,
            "methods": dict(self.methods),
            "statuses": {str(k): v for k, v in self.statuses.items()},
        }


def make_app(target: str) -> web.Application:
    """The proxy application forwarding to ``target`` (e.g. ``http://127.0.0.1:9000``)."""
    counts = Counts()
    app = web.Application(client_max_size=1 << 40)

    async def on_startup(app: web.Application) -> None:
        app["client"] = ClientSession(
            connector=TCPConnector(limit=256), timeout=ClientTimeout(total=None),
            auto_decompress=False,
        )

    async def on_cleanup(app: web.Application) -> None:
        await app["client"].close()

    async def stats(request: web.Request) -> web.Response:
        data = counts.as_dict()  # the counts up to now, then zero them on reset
        if request.method == "POST" and request.path.endswith("reset"):
            counts.reset()
        return web.json_response(data)

    async def forward(request: web.Request) -> web.StreamResponse:
        if request.path.startswith(_STATS):
            return await stats(request)
        counts.requests += 1
        counts.methods[request.method] += 1

        async def body() -> Any:
            async for chunk in request.content.iter_any():
                counts.bytes_in += len(chunk)
                yield chunk

        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        has_body = request.body_exists
        client: ClientSession = request.app["client"]
        async with client.request(
            request.method, target + request.path_qs, headers=headers,
            data=body() if has_body else None, allow_redirects=False,
        ) as upstream:
            counts.statuses[upstream.status] += 1
            resp = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for k, v in upstream.headers.items():
                if k.lower() not in _HOP:
                    resp.headers.add(k, v)
            if upstream.content_length is not None:
                resp.content_length = upstream.content_length
            await resp.prepare(request)
            async for chunk in upstream.content.iter_chunked(1 << 16):
                counts.bytes_out += len(chunk)
                await resp.write(chunk)
            await resp.write_eof()
            return resp

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


def fetch_stats(proxy_url: str, reset: bool = False) -> dict[str, Any]:
    """Read the counters of a running proxy (and zero them with ``reset``)."""
    import urllib.request

    req = urllib.request.Request(
        proxy_url + _STATS + ("reset" if reset else "stats"), method="POST" if reset else "GET",
    )
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - loopback only
        data: dict[str, Any] = json.loads(r.read())
    return data


def main(argv: list[str] | None = None) -> None:
    """Serve the proxy on 127.0.0.1 until killed."""
    ap = argparse.ArgumentParser(prog="python -m bench.proxy")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--target", required=True)
    a = ap.parse_args(argv)
    try:
        import uvloop  # type: ignore[import-not-found]

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    web.run_app(make_app(a.target.rstrip("/")), host="127.0.0.1", port=a.port,
                access_log=None, print=None)


if __name__ == "__main__":
    main()
