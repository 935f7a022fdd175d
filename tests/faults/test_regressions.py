"""Regression tests for the bugs the fault suites found (one per bug, named after it)."""

from __future__ import annotations

import pytest
from aiohttp import web

from lored.errors import ServerError
from lored.sync.http import HttpRemote


async def test_regression_non_json_200_answer_is_a_server_error_not_a_traceback() -> None:
    """A 200 answer whose body is not JSON (a captive portal, a misbehaving proxy) used
    to escape HttpRemote as a raw JSONDecodeError, so lorectl printed a traceback and
    lored logged an unexpected crash of the cycle (found by tests/faults/test_network)."""

    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html>hotel wifi login</html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", html)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    remote = HttpRemote(f"http://127.0.0.1:{port}", token="t", attempts=1)
    try:
        for call in (remote.account, remote.get_envelope):
            with pytest.raises(ServerError, match="malformed answer"):
                await call()
    finally:
        await remote.close()
        await runner.cleanup()
