"""Hostile dashboard query parameters against a real lore-server: a 400 page, never a 500.

Issue 16: ``?until=9999-12-31`` overflowed the date arithmetic, a deeply nested
``after=`` cursor raised RecursionError, an integer cursor past 2**63 overflowed the
database driver, and a lone surrogate in a filter or session id raised
UnicodeEncodeError. A stored ``meta.tool`` of a lone surrogate is refused at push, so
the listing, the account page and the session page keep rendering.
"""

from __future__ import annotations

import base64
import json
import re

import aiohttp

from tests.http.client import PASSWORD, Api, frame
from tests.serverproc import ServerProc

EMAIL = "dev@example.com"


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def _signed_in(http: aiohttp.ClientSession, url: str) -> None:
    async with http.get(url + "/login") as resp:
        html = await resp.text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', html)
    assert csrf, html
    async with http.post(url + "/login", data={
            "csrf": csrf.group(1), "email": EMAIL, "password": PASSWORD},
            allow_redirects=False) as resp:
        assert resp.status in (302, 303), await resp.text()


async def test_bad_dashboard_parameters_are_a_400_page(lore_server: ServerProc) -> None:
    lore_server.add_user(EMAIL, PASSWORD)
    api = Api.login(lore_server.url, EMAIL, "a")
    assert api.push([frame("t:one", [b"c"])])[0]["status"] == "ok"
    url = lore_server.url
    bad = [
        "/sessions?until=9999-12-31",
        "/sessions?since=9999-12-31",
        "/sessions?after=" + _cursor(b"[" * 700 + b"]" * 700),
        "/sessions?sort=size&after=" + _cursor(json.dumps([2**63, "t:one"]).encode()),
        "/sessions?sort=size&before=" + _cursor(json.dumps([-(2**64), "t:one"]).encode()),
        "/sessions?after=" + _cursor(b'["\\ud800", "t:one"]'),
        "/sessions?project=%00",  # no database stores a NUL in text
    ]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await _signed_in(http, url)
        for path in bad:
            async with http.get(url + path, allow_redirects=False) as resp:
                body = await resp.text()
                assert resp.status in (400, 404), (path, resp.status, body[:300])
                assert "Internal Server Error" not in body
        # invalid UTF-8 in the URL is decoded with replacement characters: harmless
        async with http.get(url + "/sessions?tool=%ED%A0%80") as resp:
            assert resp.status == 200, await resp.text()
        async with http.get(url + "/sessions/t:%ED%A0%80") as resp:
            assert resp.status == 404, await resp.text()
        # a surrogate tool is refused at push, so every page still renders
        header, parts = frame("t:two", [b"c"])
        doc = header.to_json()
        doc["meta"]["tool"] = "\ud800"
        raw = json.dumps(doc).encode()
        from loreproto import wire
        body = (wire.PUSH_MAGIC + len(raw).to_bytes(4, "big") + raw + b"".join(parts)
                + wire.END_MARKER)
        status, err, _ = api.call("POST", "/v1/push", body, wire.PUSH_CONTENT_TYPE)
        assert status == 400, err
        for path in ("/sessions", "/account", "/sessions/t:one",
                     "/sessions?until=2030-01-01&sort=size"):
            async with http.get(url + path) as resp:
                assert resp.status == 200, (path, resp.status)
