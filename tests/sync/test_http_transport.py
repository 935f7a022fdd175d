"""HttpRemote transport behaviour: URL policy, unreachable servers, error mapping, retries.

The server side here is a tiny fault-injecting aiohttp app (QUALITY.md's proxy that
returns 502s, drops connections, truncates bodies), not a stand-in for Lore Cloud's
rules; the real server is exercised in test_engine*.py and the e2e tests.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from lored.errors import (
    AuthError,
    MachineRevoked,
    NotLoggedIn,
    RateLimited,
    ServerBusy,
    ServerError,
    ServerUnreachable,
    UsageError,
)
from lored.sync.http import HttpRemote, check_url, retry_after
from lored.sync.remote import EnvelopeConflict
from loreproto import wire


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8765", "http://localhost:1", "http://[::1]:8765/", "https://lore.example",
])
def test_urls_allowed(url: str) -> None:
    assert check_url(url) == url.rstrip("/")


def test_plain_http_to_remote_host_refused() -> None:
    with pytest.raises(UsageError, match="plain http"):
        check_url("http://lore.example.com")
    assert check_url("http://lore.example.com", insecure_http=True)
    with pytest.raises(UsageError):
        check_url("ftp://x")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_server_down_is_unreachable() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    remote = HttpRemote(url, token="t", attempts=2, backoff=0.01)
    try:
        with pytest.raises(ServerUnreachable, match=f"cannot reach Lore Cloud at {url}"):
            await remote.account()
    finally:
        await remote.close()


async def test_no_token_is_not_logged_in() -> None:
    remote = HttpRemote("http://127.0.0.1:1")
    with pytest.raises(NotLoggedIn):
        await remote.account()


class Faults:
    """Answers scripted per path: a list of (status, body) consumed in order."""

    def __init__(self) -> None:
        self.script: dict[str, list[tuple[int, Any]]] = {}
        self.calls: dict[str, int] = {}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.calls[path] = self.calls.get(path, 0) + 1
        steps = self.script.get(path) or [(404, {"error": {"code": "not_found",
                                                           "message": "no"}})]
        status, body = steps.pop(0) if len(steps) > 1 else steps[0]
        if status == -1:  # drop the connection mid-answer
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        if isinstance(body, bytes):
            return web.Response(status=status, body=body,
                                content_type=wire.CHUNKS_CONTENT_TYPE)
        return web.json_response(body, status=status)


@pytest.fixture
async def faults() -> AsyncIterator[tuple[Faults, str]]:
    f = Faults()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", f.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield f, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def _err(code: str, **extra: Any) -> dict[str, Any]:
    return wire.error_body(code, f"{code} happened", **extra)


@pytest.mark.parametrize("status, body, exc", [
    (401, _err("unauthorized"), NotLoggedIn),
    (401, _err("machine_revoked"), MachineRevoked),
    (500, _err("internal"), ServerError),
    (400, {"not": "an error doc"}, ServerError),
])
async def test_error_mapping(faults: tuple[Faults, str], status: int, body: Any,
                             exc: type[Exception]) -> None:
    f, url = faults
    f.script["/v1/account"] = [(status, body)]
    remote = HttpRemote(url, token="t", attempts=3, backoff=0.001)
    try:
        with pytest.raises(exc):
            await remote.account()
    finally:
        await remote.close()
    assert f.calls["/v1/account"] == 1  # client errors are not retried


async def test_machine_revoked_message(faults: tuple[Faults, str]) -> None:
    f, url = faults
    f.script["/v1/account"] = [(401, _err("machine_revoked"))]
    remote = HttpRemote(url, token="t")
    try:
        with pytest.raises(MachineRevoked, match="this machine was signed out"):
            await remote.account()
    finally:
        await remote.close()


async def test_bad_credentials_on_login(faults: tuple[Faults, str]) -> None:
    f, url = faults
    f.script["/v1/login"] = [(401, _err("bad_credentials")), (200, {"token": "x"})]
    remote = HttpRemote(url, attempts=3, backoff=0.001)
    try:
        with pytest.raises(AuthError, match="wrong email or password"):
            await remote.login("a@b.c", "pw", "m", "n")
    finally:
        await remote.close()
    assert f.calls["/v1/login"] == 1  # logins are never retried (rate limit)


async def test_retries_502_and_dropped_connections(faults: tuple[Faults, str]) -> None:
    f, url = faults
    f.script["/v1/changes"] = [
        (502, {}), (-1, None), (503, {}),
        (200, {"changes": [], "cursor": 7, "more": False}),
    ]
    remote = HttpRemote(url, token="t", attempts=4, backoff=0.001)
    try:
        page = await remote.changes(0, 10)
    finally:
        await remote.close()
    assert page.cursor == 7 and f.calls["/v1/changes"] == 4


async def test_retries_give_up(faults: tuple[Faults, str]) -> None:
    f, url = faults
    f.script["/v1/envelope"] = [(503, _err("unavailable"))]
    remote = HttpRemote(url, token="t", attempts=3, busy_attempts=3, backoff=0.001)
    try:
        with pytest.raises(ServerBusy, match="is busy.*still after 3 attempts"):
            await remote.get_envelope()
    finally:
        await remote.close()
    assert f.calls["/v1/envelope"] == 3


async def test_a_429_is_retried_when_the_request_may_be_and_not_on_login(
        faults: tuple[Faults, str]) -> None:
    f, url = faults
    f.script["/v1/account"] = [(429, _err("rate_limited")), (200, {"email": "a@b.c"})]
    f.script["/v1/login"] = [(429, _err("rate_limited"))]
    remote = HttpRemote(url, token="t", backoff=0.001)
    try:
        assert (await remote.account())["email"] == "a@b.c"
        with pytest.raises(RateLimited):
            await remote.login("a@b.c", "pw", "m", "n")
    finally:
        await remote.close()
    assert f.calls == {"/v1/account": 2, "/v1/login": 1}


@pytest.mark.parametrize("value, seconds", [
    ("3", 3.0), (" 0 ", 0.0), ("soon", None), ("", None), (None, None), ("-1", None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: no wait
])
def test_retry_after_header_forms(value: str | None, seconds: float | None) -> None:
    assert retry_after(value) == seconds


async def test_envelope_conflict_carries_current(faults: tuple[Faults, str]) -> None:
    f, url = faults
    f.script["/v1/envelope"] = [(409, _err("conflict", current={"envelope": {"v": 1},
                                                                "version": 3}))]
    remote = HttpRemote(url, token="t")
    try:
        with pytest.raises(EnvelopeConflict) as info:
            await remote.put_envelope({"v": 1}, 0)
    finally:
        await remote.close()
    assert info.value.current == {"v": 1} and info.value.version == 3


async def test_chunk_stream_decoding_and_validation(faults: tuple[Faults, str]) -> None:
    f, url = faults
    body = b"".join([wire.CHUNK_MAGIC,
                     *wire.encode_chunk_frame("a:1", 1, 0, b"sealed-0"),
                     *wire.encode_chunk_frame("a:1", 1, 1, None), wire.END_MARKER])
    f.script["/v1/chunks"] = [(200, body)]
    remote = HttpRemote(url, token="t", attempts=2, backoff=0.001)
    try:
        got = await remote.fetch_chunks([("a:1", 1, 0), ("a:1", 1, 1)])
        assert [(c.index, c.data) for c in got] == [(0, b"sealed-0"), (1, None)]
        with pytest.raises(ServerError, match="not asked for"):
            await remote.fetch_chunks([("a:1", 1, 1)])
        f.script["/v1/chunks"] = [(200, body[:-4])]  # truncated: retried, then unreachable
        with pytest.raises(ServerUnreachable):
            await remote.fetch_chunks([("a:1", 1, 0), ("a:1", 1, 1)])
    finally:
        await remote.close()
